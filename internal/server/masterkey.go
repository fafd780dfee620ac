package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/seal"
)

// MasterKeyFile is the name, inside the data directory, of the master key
// generated at first start when no master-keys are configured.
const MasterKeyFile = "master.key"

// loadKeyring returns the keyring that seals the stored secrets: the
// configured master-keys, or else the data directory's generated key,
// created (0600) on first start. When master-keys are configured and a
// generated key is still in the data directory, it is added last, to open
// what it sealed before: the store then re-wraps those values under the
// configured primary, after which the file can be deleted.
func loadKeyring(cfg config.Config, log *slog.Logger) (*seal.Keyring, error) {
	path := filepath.Join(cfg.DataDir, MasterKeyFile)
	configured, err := cfg.Keyring()
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if configured != nil {
		file, err := readKeyFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return configured, nil
		}
		if err != nil {
			return nil, err
		}
		keys := make([]seal.Key, 0, len(cfg.MasterKeys)+1)
		for _, s := range cfg.MasterKeys {
			k, err := seal.ParseKey(s)
			if err != nil {
				return nil, fmt.Errorf("server: master-keys: %w", err)
			}
			if k.ID == file.ID {
				return configured, nil // the configured one wins
			}
			keys = append(keys, k)
		}
		log.Warn("master-keys are configured and the generated master key is still in the data directory: it opens the secrets it sealed, which are re-wrapped now under the configured primary key; delete the file once the server has started",
			"file", path, "file_key_id", file.ID, "primary_key_id", configured.PrimaryID())
		r, err := seal.NewKeyring(append(keys, file)...)
		if err != nil {
			return nil, fmt.Errorf("server: master keys: %w", err)
		}
		return r, nil
	}

	k, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if k, err = createKeyFile(path); err != nil {
			return nil, err
		}
		log.Info("generated the master key sealing the stored secrets", "file", path, "key_id", k.ID)
	} else if err != nil {
		return nil, err
	}
	log.Warn("the master key sealing the stored secrets is a file beside the database: it protects backups and copies of the database made without it, not a disk or host that is read whole; in production give master-keys from a secret store (HERALD_MASTER_KEYS)",
		"file", path, "key_id", k.ID)
	r, err := seal.NewKeyring(k)
	if err != nil {
		return nil, fmt.Errorf("server: master key %s: %w", path, err)
	}
	return r, nil
}

// readKeyFile reads a key file: one key as master-keys items are written.
// A file that others may read is narrowed to 0600.
func readKeyFile(path string) (seal.Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return seal.Key{}, err
	}
	k, err := seal.ParseKey(strings.TrimSpace(string(b)))
	if err != nil {
		return seal.Key{}, fmt.Errorf("server: master key %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return seal.Key{}, fmt.Errorf("server: master key: %w", err)
		}
	}
	return k, nil
}

// createKeyFile writes a new random key, its ID "local-" and 8 random hex
// digits, into a new file of mode 0600, synced before it is used.
func createKeyFile(path string) (seal.Key, error) {
	var id [4]byte
	if _, err := rand.Read(id[:]); err != nil {
		return seal.Key{}, fmt.Errorf("server: master key: %w", err)
	}
	k, err := seal.GenerateKey("local-" + hex.EncodeToString(id[:]))
	if err != nil {
		return seal.Key{}, fmt.Errorf("server: master key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return seal.Key{}, fmt.Errorf("server: master key: %w", err)
	}
	_, err = f.WriteString(k.String() + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return seal.Key{}, fmt.Errorf("server: master key: %w", err)
	}
	return k, nil
}
