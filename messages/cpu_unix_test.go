//go:build unix

package messages_test

import "syscall"

// cpuNanos is the process's CPU time (user and system) so far: a cost
// measure that, unlike wall time, other processes on the machine barely
// change.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
