// Package reqcheck validates dedup requests the same way for every store, so
// that redisdedup and kvdedup refuse exactly the same malformed requests.
// A refused request is a programming error of the caller, never a backend
// failure: it is returned before any I/O.
package reqcheck

import (
	"errors"
	"fmt"
	"time"

	"github.com/oauthsync/oauthsync/worker/dedup"
)

// ErrInvalid is wrapped by every error of this package.
var ErrInvalid = errors.New("dedup: invalid request")

func invalid(op, msg string) error { return fmt.Errorf("%w: %s: %s", ErrInvalid, op, msg) }

func common(op, commandID, owner string) error {
	switch {
	case commandID == "":
		return invalid(op, "empty CommandID")
	case owner == "":
		return invalid(op, "empty Owner")
	}
	return nil
}

// Begin checks a BeginRequest.
func Begin(r dedup.BeginRequest) error {
	if err := common("begin", r.CommandID, r.Owner); err != nil {
		return err
	}
	if r.TTL <= 0 {
		return invalid("begin", "TTL must be positive")
	}
	if r.SightingTTL <= 0 {
		return invalid("begin", "SightingTTL must be positive")
	}
	if r.Hold < 0 {
		return invalid("begin", "Hold must not be negative")
	}
	if r.JoinOwner != "" && r.LeaseKey == "" {
		return invalid("begin", "JoinOwner needs a LeaseKey")
	}
	return nil
}

// Sightings checks the sightings of a Sight call.
func Sightings(ss []dedup.Sighting) error {
	for _, s := range ss {
		switch {
		case s.CommandID == "":
			return invalid("sight", "empty CommandID")
		case s.TTL <= 0:
			return invalid("sight", "TTL must be positive")
		case s.Hold < 0:
			return invalid("sight", "Hold must not be negative")
		}
	}
	return nil
}

// Renew checks a RenewRequest.
func Renew(r dedup.RenewRequest) error {
	if err := common("renew", r.CommandID, r.Owner); err != nil {
		return err
	}
	if r.TTL <= 0 {
		return invalid("renew", "TTL must be positive")
	}
	if r.Hold < 0 {
		return invalid("renew", "Hold must not be negative")
	}
	if r.JoinOwner != "" && r.LeaseKey == "" {
		return invalid("renew", "JoinOwner needs a LeaseKey")
	}
	return nil
}

// Complete checks a CompleteRequest.
func Complete(r dedup.CompleteRequest) error {
	if err := common("complete", r.CommandID, r.Owner); err != nil {
		return err
	}
	if r.ResultTTL <= 0 {
		return invalid("complete", "ResultTTL must be positive")
	}
	return nil
}

// Release checks a ReleaseRequest.
func Release(r dedup.ReleaseRequest) error {
	if err := common("release", r.CommandID, r.Owner); err != nil {
		return err
	}
	if r.KeepHold && r.Hold <= 0 {
		return invalid("release", "KeepHold needs a positive Hold")
	}
	return nil
}

// DeliveryTrace checks a DeliveryTraceRequest.
func DeliveryTrace(r dedup.DeliveryTraceRequest) error {
	switch {
	case r.CommandID == "":
		return invalid("put delivery trace", "empty CommandID")
	case r.Traceparent == "":
		return invalid("put delivery trace", "empty Traceparent")
	case r.TTL <= 0:
		return invalid("put delivery trace", "TTL must be positive")
	}
	return nil
}

// DeliveryTraceID checks the command id of a DeliveryTrace lookup.
func DeliveryTraceID(commandID string) error {
	if commandID == "" {
		return invalid("delivery trace", "empty CommandID")
	}
	return nil
}

// Millis converts a positive duration to whole milliseconds, rounding up so
// that a sub-millisecond TTL never becomes zero (which Redis would refuse or
// treat as "expire now").
func Millis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// LeaseKey checks the resource of an OrderKeys or ResetOrderKeys call.
func LeaseKey(op, leaseKey string) error {
	if leaseKey == "" {
		return invalid(op, "empty LeaseKey")
	}
	return nil
}
