package server_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every server a test starts is stopped by its cleanup; nothing of it may
// keep running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
