// Package cli is the one command-line convention of oauthsync's binaries
// (syncctl, syncworker): how a command's output, errors and exit code are
// rendered, in one place, so that every command follows it without doing
// anything itself.
//
// The convention:
//
//   - Output under -o json: a record stream (results, dead letters, plan
//     lines, replays) is JSON Lines, one compact object per line; anything
//     else (status, a publish, a summary) is one compact JSON object on one
//     line. Nothing is pretty-printed; WriteJSON writes both.
//   - Errors go to stderr: "<binary>: <message>" in text, and under -o json
//     one line {"error":{"code":"usage","exitCode":2,"message":"..."}},
//     optionally with "details" (see Error).
//   - Exit codes (Exit*): 0 success; 1 an error prevented the work; 2 bad
//     usage (unknown command or flag, bad arguments, invalid input); 3 the
//     request was refused: a command rejected or failed, an id conflict, a
//     dead letter that cannot be replayed; 4 a timeout (results still
//     missing); 130 interrupted.
//   - Every binary answers --version (Version: the build's module version and
//     VCS revision, or what -ldflags "-X .../internal/cli.version=v1.2.3" set).
//
// Execute runs a cobra root command under this convention; Prepare (called by
// Execute) makes unknown subcommands and stray arguments usage errors.
package cli
