// Package simfault makes a provider simulator fail on purpose, at random,
// so that `syncworker dev` can be used to practise what happens when a
// provider misbehaves: retries, failed results, dead letters and their
// replay.
//
// A spec is a comma-separated list of rules, each applied to a request with
// its own probability:
//
//	503:30%        answer 30% of requests with HTTP 503 (any 4xx/5xx status)
//	429:10%        answer 10% with 429 Too Many Requests and Retry-After: 1
//	slow:2s        delay every answer by 2s (slow:2s:50%: half of them)
//	off            no faults
//
// A rate without "%" is a percentage too; no rate means 100%. Rules are
// tried in order: delays add up, the first status that fires answers.
// Faults wraps a simulator's handler; its rules can be replaced while it
// serves (Set), also over HTTP at ControlPath: GET shows the spec, PUT or
// POST with ?spec=... replaces it.
package simfault
