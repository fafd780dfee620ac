// Package operatorkey keeps the operator key, the bearer key of the
// operator API (/v1/admin: creating and managing apps), in the data
// directory when the configuration gives none, so that the CLI's app
// commands work against a local server without flags.
package operatorkey

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// FileName is the key's file inside the data directory, written with mode
// 0600: whoever holds the key manages every app of the server.
const FileName = "operator-key"

// ErrNoKey: the data directory holds no operator key (the server has not
// been started on it, or it was started with a configured key).
var ErrNoKey = errors.New("no operator key in the data directory; start the server once with `herald serve`, or give --operator-key")

// Load reads the key from dataDir; ErrNoKey if there is none.
func Load(dataDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, FileName))
	if errors.Is(err, os.ErrNotExist) {
		return "", ErrNoKey
	}
	if err != nil {
		return "", fmt.Errorf("operatorkey: load: %w", err)
	}
	k := strings.TrimSpace(string(b))
	if k == "" {
		return "", fmt.Errorf("operatorkey: load: %s is empty", FileName)
	}
	return k, nil
}

// Ensure returns the key saved in dataDir, generating and saving a fresh
// random one when there is none; created says it did.
func Ensure(dataDir string) (key string, created bool, err error) {
	key, err = Load(dataDir)
	if !errors.Is(err, ErrNoKey) {
		return key, false, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", false, fmt.Errorf("operatorkey: random: %w", err)
	}
	key = "op_" + hex.EncodeToString(b)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", false, fmt.Errorf("operatorkey: save: %w", err)
	}
	tmp := filepath.Join(dataDir, FileName+".tmp")
	if err := os.WriteFile(tmp, []byte(key+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("operatorkey: save: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dataDir, FileName)); err != nil {
		return "", false, fmt.Errorf("operatorkey: save: %w", err)
	}
	return key, true, nil
}
