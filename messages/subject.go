package messages

import (
	"fmt"
	"regexp"
	"strings"
)

// DefaultSubjectPrefix is the subject prefix of docs/CONTRACT.md §2.
const DefaultSubjectPrefix = "sync"

var (
	connectionPattern = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
	resourcePattern   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

// ValidConnection reports whether name is a valid connection name ([a-z0-9_-]{1,64}).
func ValidConnection(name string) bool { return connectionChars.run(name, 1, 64) }

// ValidResource reports whether id is a valid resource id ([A-Za-z0-9_-]{1,128}).
func ValidResource(id string) bool { return resourceChars.run(id, 1, 128) }

// Subjects names the subjects of the three streams under one prefix.
// The zero value uses DefaultSubjectPrefix.
type Subjects struct {
	// Prefix is the first subject token(s), "sync" by default.
	Prefix string
}

func (s Subjects) prefix() string {
	if s.Prefix == "" {
		return DefaultSubjectPrefix
	}
	return s.Prefix
}

// Command is the subject a command for connection/resource is published on.
func (s Subjects) Command(connection, resource string) string {
	return s.prefix() + ".commands." + connection + "." + resource
}

// Result is the subject of a command's result event.
func (s Subjects) Result(connection, resource string) string {
	return s.prefix() + ".results." + connection + "." + resource
}

// DeadLetter is the subject a failed command is dead-lettered on.
func (s Subjects) DeadLetter(connection, resource string) string {
	return s.prefix() + ".deadletter." + connection + "." + resource
}

// Commands is the wildcard subject of the commands stream.
func (s Subjects) Commands() string { return s.prefix() + ".commands.>" }

// Results is the wildcard subject of the results stream.
func (s Subjects) Results() string { return s.prefix() + ".results.>" }

// DeadLetters is the wildcard subject of the dead-letter stream.
func (s Subjects) DeadLetters() string { return s.prefix() + ".deadletter.>" }

// ConnectionCommands is the filter subject of one connection's commands.
func (s Subjects) ConnectionCommands(connection string) string {
	return s.prefix() + ".commands." + connection + ".*"
}

// BulkSuffix ends the subject of a bulk command (a migration's): it is
// served after the interactive commands of its connection, with a share
// of the workers kept for it (docs/CONTRACT.md §2).
const BulkSuffix = ".bulk"

// BulkCommand is the subject a bulk command is published on:
// <prefix>.commands.<connection>.<resource>.bulk.
func (s Subjects) BulkCommand(connection, resource string) string {
	return s.Command(connection, resource) + BulkSuffix
}

// ConnectionBulkCommands is the filter subject of one connection's bulk
// commands.
func (s Subjects) ConnectionBulkCommands(connection string) string {
	return s.ConnectionCommands(connection) + BulkSuffix
}

// ParseCommand returns the connection and resource tokens of a command
// subject, interactive (<prefix>.commands.<connection>.<resource>) or bulk
// (the same with a last token "bulk"), or an *InvalidError (field
// "subject") when the subject is neither, with valid tokens.
func (s Subjects) ParseCommand(subject string) (connection, resource string, err error) {
	rest, ok := strings.CutPrefix(subject, s.prefix()+".commands.")
	if !ok {
		return "", "", &InvalidError{Field: "subject", Reason: fmt.Sprintf("%q is not under %s.commands.", subject, s.prefix())}
	}
	connection, resource, ok = strings.Cut(rest, ".")
	if ok {
		resource = strings.TrimSuffix(resource, BulkSuffix)
	}
	if !ok || strings.Contains(resource, ".") {
		return "", "", &InvalidError{Field: "subject", Reason: fmt.Sprintf("%q must be %s.commands.<connection>.<resource>, or the same with .bulk after it", subject, s.prefix())}
	}
	if !ValidConnection(connection) {
		return "", "", &InvalidError{Field: "subject", Reason: fmt.Sprintf("connection token %q does not match [a-z0-9_-]{1,64}", connection)}
	}
	if !ValidResource(resource) {
		return "", "", &InvalidError{Field: "subject", Reason: fmt.Sprintf("resource token %q does not match [A-Za-z0-9_-]{1,128}", resource)}
	}
	return connection, resource, nil
}

// IsBulk reports whether subject is a bulk command's: a resource token
// followed by "bulk" (a resource named "bulk" alone is interactive).
func (s Subjects) IsBulk(subject string) bool {
	rest, ok := strings.CutPrefix(subject, s.prefix()+".commands.")
	if !ok {
		return false
	}
	_, resource, ok := strings.Cut(rest, ".")
	return ok && strings.HasSuffix(resource, BulkSuffix)
}
