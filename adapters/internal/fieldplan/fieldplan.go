package fieldplan

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/oauthsync/oauthsync/adapters"
)

// JSON encodes v compactly, without escaping HTML characters. A nil pointer
// is null. v must be a value encoding/json encodes without error (strings,
// bools, numbers, json.Number, slices, maps and pointers of them); anything
// else is a programming error and panics, with a message that holds no value.
func JSON(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("fieldplan: a %T does not encode as JSON", v))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// Compared is the plan of a field whose current value the read shows:
// FieldUnchanged when holds (the adapter's own comparison, the one Apply
// uses), else FieldChanged, with both values.
func Compared(field string, holds bool, current, desired any) adapters.FieldPlan {
	return adapters.FieldPlan{Field: field, State: state(holds), Current: JSON(current), Desired: JSON(desired)}
}

// Unknown is the plan of a field whose current value cannot be read: Apply
// would send desired.
func Unknown(field string, desired any) adapters.FieldPlan {
	return adapters.FieldPlan{Field: field, State: adapters.FieldUnknown, Desired: JSON(desired)}
}

// Secret is the plan of a secret field, without values: FieldUnknown when
// the read does not show the secret (known is false), else FieldUnchanged
// when holds, else FieldChanged.
func Secret(field string, known, holds bool) adapters.FieldPlan {
	s := adapters.FieldUnknown
	if known {
		s = state(holds)
	}
	return adapters.FieldPlan{Field: field, State: s, Secret: true}
}

func state(holds bool) adapters.FieldState {
	if holds {
		return adapters.FieldUnchanged
	}
	return adapters.FieldChanged
}
