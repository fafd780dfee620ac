package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gofrs/flock"
)

// LockFile is the lock file's name inside the data directory. A running
// server holds an exclusive lock on it (flock(2), released by the kernel
// when the process ends, however it ends) and writes its PID into it.
const LockFile = "herald.lock"

// ErrDataDirInUse is what a *DataDirInUseError is (errors.Is): another
// process holds the data directory's lock.
var ErrDataDirInUse = errors.New("data directory in use")

// DataDirInUseError says that a server did not start because another
// process runs a server on its data directory: two processes on one
// database both serve, half of the sends fail on the busy database, and
// every push is sent by both.
type DataDirInUseError struct {
	Dir string // the data directory
	// PID is the holder's process ID as it recorded it in the lock file;
	// 0 when it could not be read.
	PID int
}

// Error implements error.
func (e *DataDirInUseError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = "process " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("data directory %s is in use: %s runs a Herald server on it (it holds %s); stop it, or give this server another data directory",
		e.Dir, holder, filepath.Join(e.Dir, LockFile))
}

// Is reports target == ErrDataDirInUse.
func (e *DataDirInUseError) Is(target error) bool { return target == ErrDataDirInUse }

// lockDataDir takes the data directory's lock without waiting, records
// this process's PID in it and returns the lock to release at the end;
// a *DataDirInUseError when another process holds it.
func lockDataDir(dir string) (*flock.Flock, error) {
	path := filepath.Join(dir, LockFile)
	l := flock.New(path)
	ok, err := l.TryLock()
	if err != nil {
		return nil, fmt.Errorf("server: locking data directory %s: %w", dir, err)
	}
	if !ok {
		e := &DataDirInUseError{Dir: dir}
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				e.PID = pid
			}
		}
		return nil, e
	}
	// Through another descriptor: the lock stays with the one flock holds
	// (flock locks belong to the open file, unlike POSIX record locks). A
	// PID left by a killed holder is overwritten here; it only serves the
	// message above, so failing to write it is no reason not to start.
	_ = os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
	return l, nil
}
