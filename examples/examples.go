// Package examples embeds the sample messages shipped in this directory:
// the contract's command and result, and the batch `syncworker dev` publishes.
package examples

import _ "embed"

// DevBatch is the NDJSON batch of commands `syncworker dev` publishes.
//
//go:embed dev-batch.ndjson
var DevBatch []byte
