//go:build !unix

package loadgen

import (
	"errors"
	"time"
)

// RaiseFileLimit is a no-op where there is no RLIMIT_NOFILE.
func RaiseFileLimit() (uint64, error) {
	return 0, errors.New("loadgen: no RLIMIT_NOFILE on this system")
}

func selfCPU() time.Duration { return 0 }
