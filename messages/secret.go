package messages

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Redacted is what a Secret prints instead of its value.
const Redacted = "[REDACTED]"

// Secret holds a client secret or a credential. It formats as [REDACTED] with
// every fmt verb and in slog; Reveal returns the value for the one place that
// needs it (a provider request body or header). Its JSON encoding is the value
// itself, because commands carry secrets on the wire to the worker.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String returns [REDACTED].
func (s Secret) String() string { return Redacted }

// GoString returns [REDACTED], so %#v does not leak the value.
func (s Secret) GoString() string { return Redacted }

// Format prints [REDACTED] for every verb.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// LogValue keeps the value out of slog records.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON encodes the value: a command on the wire must carry it.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(string(s)) }
