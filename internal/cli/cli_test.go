package cli

import "testing"

func TestRawFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "-o", "json"}, "json"},
		{[]string{"-ojson", "status"}, "json"},
		{[]string{"--output=json"}, "json"},
		{[]string{"-o=json"}, "json"},
		{[]string{"--output", "table", "-o", "json"}, "json"},
		{[]string{"--", "-o", "json"}, ""},
		{[]string{"-o"}, ""},
		{[]string{"status", "--bogus"}, ""},
	} {
		if got := RawFlag(c.args, "output", "o"); got != c.want {
			t.Errorf("RawFlag(%q) = %q, want %q", c.args, got, c.want)
		}
	}
	if got := RawFlag([]string{"dev", "--log-format", "text"}, "log-format", ""); got != "text" {
		t.Errorf("log-format: %q", got)
	}
}
