package messages_test

import (
	"testing"

	"github.com/oauthsync/oauthsync/messages"
)

func TestSubjectLanes(t *testing.T) {
	s := messages.Subjects{Prefix: "acme.sync"}
	if got, want := s.BulkCommand("rc-prod", "r1"), "acme.sync.commands.rc-prod.r1.bulk"; got != want {
		t.Errorf("BulkCommand = %q, want %q", got, want)
	}
	if got, want := s.ConnectionBulkCommands("rc-prod"), "acme.sync.commands.rc-prod.*.bulk"; got != want {
		t.Errorf("ConnectionBulkCommands = %q, want %q", got, want)
	}
	for _, tt := range []struct {
		subject  string
		bulk     bool
		resource string // "" when ParseCommand refuses the subject
	}{
		{"acme.sync.commands.rc-prod.r1", false, "r1"},
		{"acme.sync.commands.rc-prod.r1.bulk", true, "r1"},
		{"acme.sync.commands.rc-prod.bulk", false, "bulk"}, // a resource named bulk
		{"acme.sync.commands.rc-prod.bulk.bulk", true, "bulk"},
		{"acme.sync.commands.rc-prod..bulk", true, ""},
		{"acme.sync.commands.rc-prod.r1.other", false, ""},
		{"acme.sync.commands.rc-prod.r1.bulk.bulk", true, ""},
		{"sync.commands.rc-prod.r1.bulk", false, ""}, // another prefix
	} {
		if got := s.IsBulk(tt.subject); got != tt.bulk {
			t.Errorf("IsBulk(%q) = %v, want %v", tt.subject, got, tt.bulk)
		}
		_, res, err := s.ParseCommand(tt.subject)
		if tt.resource == "" && err == nil {
			t.Errorf("ParseCommand(%q) accepted it (resource %q)", tt.subject, res)
		}
		if tt.resource != "" && (err != nil || res != tt.resource) {
			t.Errorf("ParseCommand(%q) = %q, %v; want %q", tt.subject, res, err, tt.resource)
		}
	}
}
