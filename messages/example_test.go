package messages_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/oauthsync/oauthsync/messages"
)

func ExampleDecodeCommand() {
	body := []byte(`{
	  "specversion": "1.0",
	  "id": "cmd-2026-11-22-000123",
	  "source": "/billing-service",
	  "type": "oauthsync.client.update.v1",
	  "connection": "rc-prod",
	  "resource": "65a7d77142a7e12453052d59",
	  "data": {
	    "sequence": 1732269600000,
	    "changes": { "redirectUri": "https://app.example.com/cb", "active": true, "clientSecret": "s3cr3t" }
	  }
	}`)
	subject := messages.Subjects{}.Command("rc-prod", "65a7d77142a7e12453052d59")

	cmd, err := messages.DecodeCommand(subject, body, messages.DecodeOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(cmd.ID, cmd.Connection, cmd.Resource, cmd.OrderKey(time.UnixMilli(1732269700000), 42))
	fmt.Println(cmd.Data.Fields())
	fmt.Println(*cmd.Data.Changes.ClientSecret) // a Secret never prints its value

	// A refusal names the field and, when it could read them, the ids.
	_, err = messages.DecodeCommand(subject, []byte(`{"id":"cmd-7","connection":"rc-prod","data":{"changes":{"active":"yes"}}}`), messages.DecodeOptions{})
	var invalid *messages.InvalidError
	if errors.As(err, &invalid) {
		fmt.Println(invalid.Field, invalid.Identified(), invalid.ID)
	}
	// Output:
	// cmd-2026-11-22-000123 rc-prod 65a7d77142a7e12453052d59 1732269600000/42
	// [clientSecret redirectUri active]
	// [REDACTED]
	// specversion true cmd-7
}

func ExampleNewResultEvent() {
	ev := messages.NewResultEvent("/syncworker/worker-1", messages.Result{
		CommandID:             "cmd-2026-11-22-000123",
		Connection:            "rc-prod",
		Provider:              "rocketchat",
		Resource:              "65a7d77142a7e12453052d59",
		Status:                messages.StatusApplied,
		AppliedFields:         []string{messages.FieldRedirectURI, messages.FieldActive},
		Attempts:              1,
		Deliveries:            1,
		CommandStreamSequence: 1234,
		StartedAt:             time.Date(2026, 11, 22, 10, 0, 0, 10e6, time.UTC),
		FinishedAt:            time.Date(2026, 11, 22, 10, 0, 0, 52e6, time.UTC),
	})
	body, err := messages.EncodeResultEvent(ev)
	if err != nil {
		panic(err)
	}
	fmt.Println(messages.Subjects{}.Result(ev.Data.Connection, ev.Data.Resource))
	fmt.Println(string(body))
	// Output:
	// sync.results.rc-prod.65a7d77142a7e12453052d59
	// {"specversion":"1.0","id":"result-cmd-2026-11-22-000123","source":"/syncworker/worker-1","type":"oauthsync.client.update.result.v1","time":"2026-11-22T10:00:00.052Z","datacontenttype":"application/json","subject":"65a7d77142a7e12453052d59","data":{"commandId":"cmd-2026-11-22-000123","connection":"rc-prod","provider":"rocketchat","resource":"65a7d77142a7e12453052d59","status":"applied","appliedFields":["redirectUri","active"],"skippedFields":[],"attempts":1,"deliveries":1,"commandStreamSequence":1234,"startedAt":"2026-11-22T10:00:00.01Z","finishedAt":"2026-11-22T10:00:00.052Z","error":null}}
}
