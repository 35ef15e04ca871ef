package messages

import "fmt"

// InvalidError says why a command was refused: which field and why. It also
// carries the ids that could be read, so the worker can publish a rejected
// result (when ID, Connection and Resource are all known) instead of a dead letter.
type InvalidError struct {
	// Field is the JSON path of the offending field ("data.changes.active",
	// "subject", "body").
	Field string
	// Reason says what is wrong, naming the expected type, pattern or limit.
	// It never contains the value of a secret.
	Reason string
	// ID, Connection and Resource are set when they could be read and are valid.
	ID, Connection, Resource string
}

func (e *InvalidError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// Identified reports whether the command id, connection and resource are known,
// i.e. whether a rejected result can be published for the refused command.
func (e *InvalidError) Identified() bool {
	return e.ID != "" && e.Connection != "" && e.Resource != ""
}

// DecodeOptions tune DecodeCommand.
type DecodeOptions struct {
	// MaxBytes is the largest body accepted; 0 means DefaultMaxCommandBytes.
	MaxBytes int
	// Subjects names the subjects; the zero value uses the "sync" prefix.
	Subjects Subjects
}

// DecodeCommand decodes and validates a command received on subject.
// On refusal it returns an *InvalidError.
func DecodeCommand(subject string, body []byte, opts DecodeOptions) (*Command, error) {
	panic("unimplemented")
}
