// Package devapp keeps the development app's credentials in the data
// directory, so that the CLI's client commands (token, send, listen, bench)
// work against a local server without flags.
package devapp

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// FileName is the credentials file inside the data directory. It is written
// with mode 0600: it holds the app's server secret and admin key.
const FileName = "dev-app.json"

// ErrNoDevApp: the data directory holds no development app (the server has
// not been started on it yet).
var ErrNoDevApp = errors.New("no development app in the data directory; start the server once with `herald serve`")

// Credentials are the development app's ID and secrets.
type Credentials struct {
	AppID    string `json:"appID"`
	Secret   string `json:"secret"`
	AdminKey string `json:"adminKey"`
}

// New returns fresh random credentials.
func New() (Credentials, error) {
	id, err := randomHex(8)
	if err != nil {
		return Credentials{}, err
	}
	secret, err := randomHex(32)
	if err != nil {
		return Credentials{}, err
	}
	admin, err := randomHex(24)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{AppID: "dev-" + id, Secret: secret, AdminKey: admin}, nil
}

// Load reads the credentials from dataDir; ErrNoDevApp if there are none.
func Load(dataDir string) (Credentials, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, FileName))
	if errors.Is(err, os.ErrNotExist) {
		return Credentials{}, ErrNoDevApp
	}
	if err != nil {
		return Credentials{}, fmt.Errorf("devapp: load: %w", err)
	}
	var c Credentials
	if err := json.Unmarshal(b, &c); err != nil {
		return Credentials{}, fmt.Errorf("devapp: load %s: %w", FileName, err)
	}
	if c.AppID == "" || c.Secret == "" {
		return Credentials{}, fmt.Errorf("devapp: load %s: appID and secret are required", FileName)
	}
	return c, nil
}

// Save writes the credentials to dataDir (created if needed), atomically.
func Save(dataDir string, c Credentials) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("devapp: save: %w", err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("devapp: save: %w", err)
	}
	tmp := filepath.Join(dataDir, FileName+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("devapp: save: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dataDir, FileName)); err != nil {
		return fmt.Errorf("devapp: save: %w", err)
	}
	return nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("devapp: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}
