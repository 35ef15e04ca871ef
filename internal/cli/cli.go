package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes (see the package documentation).
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitRejected    = 3
	ExitTimeout     = 4
	ExitInterrupted = 130
)

// codeNames are the error codes of the JSON error object, by exit code.
var codeNames = map[int]string{
	ExitError:       "error",
	ExitUsage:       "usage",
	ExitRejected:    "rejected",
	ExitTimeout:     "timeout",
	ExitInterrupted: "interrupted",
}

// Error is an error with the exit code it ends the process with. Err nil
// prints nothing (the command already said what happened).
type Error struct {
	// Exit is the process's exit code.
	Exit int
	// Code names the error in JSON ("usage", "rejected", "id_conflict",
	// "invalid_lines", ...); empty: the name of Exit.
	Code string
	// Err is the error to print; nil prints nothing.
	Err error
	// Details, when set, is the JSON error's "details" member.
	Details any
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Exit)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ExitCode is e's exit code (ExitCoder).
func (e *Error) ExitCode() int { return e.Exit }

// Quiet reports whether e prints nothing (Quieter).
func (e *Error) Quiet() bool { return e.Err == nil }

// ExitCoder is an error that chooses the process's exit code. *Error is
// one; a command may have its own.
type ExitCoder interface{ ExitCode() int }

// Quieter is an error that, when Quiet, is not printed: the command already
// said what happened.
type Quieter interface{ Quiet() bool }

// Usagef is a usage error (exit 2): a bad flag, argument or input.
func Usagef(format string, args ...any) error {
	return &Error{Exit: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// WithCode exits with code, printing nothing more.
func WithCode(code int) error { return &Error{Exit: code} }

// Exitf is an error that exits with code.
func Exitf(code int, format string, args ...any) error {
	return &Error{Exit: code, Err: fmt.Errorf(format, args...)}
}

// ExitCode is the exit code err ends a run with: an *Error's own, 130 when
// ctx was interrupted, else 1; 0 for nil.
func ExitCode(ctx context.Context, err error) int {
	if err == nil {
		return ExitOK
	}
	var e ExitCoder
	if errors.As(err, &e) {
		return e.ExitCode()
	}
	if ctx != nil && ctx.Err() != nil {
		return ExitInterrupted
	}
	return ExitError
}

// errorJSON is the JSON form of an error on stderr.
type errorJSON struct {
	Error struct {
		Code     string `json:"code"`
		ExitCode int    `json:"exitCode"`
		Message  string `json:"message"`
		Details  any    `json:"details,omitempty"`
	} `json:"error"`
}

// PrintError writes err to w as the convention says: "<name>: message", or
// under asJSON one {"error":{...}} line. An *Error without Err prints
// nothing.
func PrintError(w io.Writer, name string, err error, code int, asJSON bool) {
	var q Quieter
	if errors.As(err, &q) && q.Quiet() {
		return
	}
	var e *Error
	errors.As(err, &e)
	if !asJSON {
		fmt.Fprintf(w, "%s: %v\n", name, err)
		return
	}
	var out errorJSON
	out.Error.ExitCode = code
	out.Error.Code = codeNames[code]
	out.Error.Message = err.Error()
	if e != nil {
		if e.Code != "" {
			out.Error.Code = e.Code
		}
		out.Error.Details = e.Details
	}
	_ = WriteJSON(w, out)
}

// WriteJSON writes v as one compact JSON line (HTML characters unescaped):
// a JSON Lines record, or a command's one JSON object.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Options tune Execute.
type Options struct {
	// Stdout, Stderr are the command's streams.
	Stdout, Stderr io.Writer
	// JSONErrors reports whether errors are to be printed as JSON; it is
	// asked after the flags are parsed. Nil: never.
	JSONErrors func() bool
	// Scrub, when set, rewrites every error message before it is printed
	// (text or JSON): errors quote URLs and provider text, which may hold
	// passwords.
	Scrub func(string) string
}

// scrubbedError is an error whose message went through a scrubber; it
// unwraps to the original, so its exit code and details are kept.
type scrubbedError struct {
	err   error
	scrub func(string) string
}

func (e scrubbedError) Error() string { return e.scrub(e.err.Error()) }
func (e scrubbedError) Unwrap() error { return e.err }

// Execute runs root with args under the convention and returns the exit
// code: errors printed once (text or JSON), usage errors (unknown command,
// unknown flag, bad arguments) exit 2, an interrupted ctx exits 130.
func Execute(ctx context.Context, root *cobra.Command, args []string, o Options) int {
	Prepare(root)
	root.SetArgs(args)
	root.SetOut(o.Stdout)
	root.SetErr(o.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if isCobraUsage(err) {
		err = &Error{Exit: ExitUsage, Err: err}
	}
	code := ExitCode(ctx, err)
	asJSON := o.JSONErrors != nil && o.JSONErrors()
	if !asJSON {
		asJSON = jsonRequested(args)
	}
	if o.Scrub != nil {
		err = scrubbedError{err: err, scrub: o.Scrub}
	}
	PrintError(o.Stderr, root.Name(), err, code, asJSON)
	return code
}

// isCobraUsage recognises cobra's own usage errors, which it does not type.
func isCobraUsage(err error) bool {
	var e ExitCoder
	if errors.As(err, &e) {
		return false
	}
	msg := err.Error()
	for _, p := range []string{"unknown command ", "unknown flag", "unknown shorthand flag", "flag needs an argument",
		"invalid argument ", "accepts ", "requires at least", "requires at most", "if any flags in the group",
		"required flag(s)", "at least one of the flags"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// jsonRequested finds -o json among raw arguments, for an error found before
// the flags were parsed.
func jsonRequested(args []string) bool { return RawFlag(args, "output", "o") == "json" }

// RawFlag is the last value given to flag --long (or -short) among raw
// arguments, "" if none: for an error found before the flags were parsed.
func RawFlag(args []string, long, short string) string {
	v := ""
	for i, a := range args {
		if a == "--" {
			break
		}
		for _, name := range []string{"--" + long, "-" + short} {
			if name == "-" {
				continue
			}
			switch {
			case a == name && i+1 < len(args):
				v = args[i+1]
			case strings.HasPrefix(a, name+"="):
				v = strings.TrimPrefix(a, name+"=")
			case len(name) == 2 && strings.HasPrefix(a, name) && len(a) > 2 && a[2] != '=':
				v = a[2:]
			}
		}
	}
	return v
}

// Prepare applies the convention to root and its subcommands: flag errors
// are usage errors naming the command's help; a command group (subcommands,
// no action of its own) prints its help when called alone and refuses an
// unknown subcommand as a usage error; a command whose Use names no
// argument and that sets no Args takes none (NoArgs); root answers
// --version. A command with arguments checks them itself, returning Usagef
// errors (cobra's own checks are recognised as usage errors too). Execute calls
// it; calling it again does nothing more.
func Prepare(root *cobra.Command) {
	if root.Annotations["cli.prepared"] != "" {
		return
	}
	if root.Annotations == nil {
		root.Annotations = map[string]string{}
	}
	root.Annotations["cli.prepared"] = "yes"
	root.SilenceUsage, root.SilenceErrors = true, true
	if root.Version == "" {
		root.Version = Version()
	}
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &Error{Exit: ExitUsage, Err: fmt.Errorf("%w\nsee '%s --help'", err, c.CommandPath())}
	})
	walk(root, func(c *cobra.Command) {
		if c.Name() == "help" || c.Name() == "completion" || c.HasParent() && c.Parent().Name() == "completion" {
			return
		}
		switch {
		case !c.Runnable() && c.HasSubCommands():
			c.Args = groupArgs
			c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
		case c.Runnable() && c.Args == nil && c.HasSubCommands():
			// A command with an action and subcommands (syncworker):
			// an argument is an unknown subcommand.
			c.Args = NoArgs
		case c.Runnable() && c.Args == nil && !strings.Contains(c.Use, " "):
			// A Use without an argument ("status", not "migrate FILE")
			// takes none.
			c.Args = NoArgs
		}
	})
}

func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

// groupArgs refuses an argument to a command group: it is an unknown
// subcommand.
func groupArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return unknownCommand(c, args[0])
}

func unknownCommand(c *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, c.CommandPath())
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2
	}
	if s := c.SuggestionsFor(name); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return &Error{Exit: ExitUsage, Err: fmt.Errorf("%s\nsee '%s --help'", msg, c.CommandPath())}
}

// NoArgs refuses positional arguments as a usage error: to a command with
// subcommands, the first one is an unknown command.
func NoArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if c.HasSubCommands() {
		return unknownCommand(c, args[0])
	}
	return Usagef("%s takes no arguments, got %q (see '%s --help')", c.CommandPath(), args, c.CommandPath())
}

// version is set by -ldflags "-X github.com/oauthsync/oauthsync/internal/cli.version=v1.2.3".
var version string

// Version is the running binary's version: what -ldflags set, else the main
// module's version from the build information, with the VCS revision (and
// "modified" for a dirty tree) when the build recorded them.
func Version() string {
	info, ok := debug.ReadBuildInfo()
	v := version
	if v == "" {
		v = "(devel)"
		if ok && info.Main.Version != "" {
			v = info.Main.Version
		}
	}
	if !ok {
		return v
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " (revision " + rev + modified + ")"
	}
	return v + " " + info.GoVersion
}
