//go:build unix

package limit

import "syscall"

// FileLimit returns the process's soft RLIMIT_NOFILE (which the Go
// runtime raised to the hard limit at start), 0 if unknown.
func FileLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return uint64(r.Cur)
}
