//go:build !unix

package messages_test

func cpuNanos() int64 { return 0 }
