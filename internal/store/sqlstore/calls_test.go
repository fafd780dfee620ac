package sqlstore

import (
	"path/filepath"
	"testing"

	"github.com/heraldim/herald/internal/store/storetest"
)

func TestCallContract(t *testing.T) {
	storetest.RunCalls(t, func(t *testing.T, dir string) storetest.CallStore {
		return openTest(t, Config{Path: filepath.Join(dir, "herald.db")})
	})
}
