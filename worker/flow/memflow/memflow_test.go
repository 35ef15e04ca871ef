package memflow_test

import (
	"testing"

	"github.com/oauthsync/oauthsync/worker/flow"
	"github.com/oauthsync/oauthsync/worker/flow/flowtest"
	"github.com/oauthsync/oauthsync/worker/flow/memflow"
)

func TestConformance(t *testing.T) {
	flowtest.Run(t, func(*testing.T) flow.Store { return memflow.New() })
}
