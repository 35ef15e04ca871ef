package messages

import "embed"

// CommandSchema is the JSON Schema (draft 2020-12) of an update command, for
// publishers in other languages. It accepts every command DecodeCommand
// accepts; DecodeCommand is stricter where a schema cannot speak (connection
// and resource equal to the subject's tokens, integers written without
// fraction, URL parsing, Unicode whitespace).
//
//go:embed schema/command.schema.json
var CommandSchema []byte

// ResultSchema is the JSON Schema (draft 2020-12) of a result event: every
// event EncodeResultEvent produces matches it.
//
//go:embed schema/result.schema.json
var ResultSchema []byte

// Schemas holds both schemas, under schema/command.schema.json and
// schema/result.schema.json, e.g. to serve them over HTTP.
//
//go:embed schema/*.json
var Schemas embed.FS
