//go:build unix

package loadgen

import (
	"fmt"
	"syscall"
	"time"
)

// RaiseFileLimit raises this process's soft limit on open files
// (RLIMIT_NOFILE) to its hard limit and returns the new soft limit. Each
// session holds a socket, and 10,000 sessions are well above the usual soft
// limit of 1,024. (Go itself raises the limit at start since Go 1.19; this
// keeps the tool right when built otherwise, and reports the limit.) The hard
// limit can only be raised by root: `ulimit -Hn` or limits.conf.
func RaiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("loadgen: getrlimit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("loadgen: setrlimit: %w", err)
		}
	}
	return uint64(lim.Cur), nil
}

// selfCPU returns the CPU time (user + system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
