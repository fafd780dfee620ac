package operatorkey

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestEnsure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := Load(dir); !errors.Is(err, ErrNoKey) {
		t.Fatalf("Load of an empty dir: %v", err)
	}
	k, created, err := Ensure(dir)
	if err != nil || !created || len(k) < 24 {
		t.Fatalf("Ensure: %q %v %v", k, created, err)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	again, created, err := Ensure(dir)
	if err != nil || created || again != k {
		t.Fatalf("second Ensure: %q %v %v, want the saved %q", again, created, err, k)
	}
	if got, err := Load(dir); err != nil || got != k {
		t.Fatalf("Load: %q %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || errors.Is(err, ErrNoKey) {
		t.Fatalf("Load of an empty file: %v", err)
	}
}
