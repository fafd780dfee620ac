// Package seal encrypts secrets at rest with envelope encryption.
//
// Each value is encrypted under a fresh random 256-bit data key with
// AES-256-GCM; the data key is itself encrypted ("wrapped", AES-256-GCM
// too) under a key-encryption key (KEK) named by a key ID. The stored form
// is one self-describing string:
//
//	hs1:<key ID>:<base64url(wrap nonce | wrapped data key | value nonce | value ciphertext)>
//
// so that a value stored in plaintext by an older version is recognised
// (it lacks the prefix) and the KEK that opens a value is named by it.
// Associated data given by the caller (an app and a column, say) binds a
// value to its place: a sealed value copied into another row does not open.
//
// A Keyring holds several KEKs: the first seals, every one opens. Rotating
// a KEK only re-wraps each value's data key (Rewrap); the value's own
// ciphertext stays as it is.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Prefix starts every sealed value: the format's name and version.
const Prefix = "hs1:"

// KeySize is the size of a KEK and of a data key: 32 bytes, AES-256.
const KeySize = 32

// maxKeyIDLen bounds a key ID, which every sealed value repeats.
const maxKeyIDLen = 32

const (
	nonceSize   = 12                // AES-GCM's standard nonce
	tagSize     = 16                // AES-GCM's tag
	wrappedSize = KeySize + tagSize // a data key wrapped by a KEK
	headerSize  = nonceSize + wrappedSize + nonceSize
)

var b64 = base64.RawURLEncoding

// Errors of this package. UnknownKeyError is also ErrUnknownKey.
var (
	// ErrNotSealed: the stored value lacks the Prefix (a plaintext value).
	ErrNotSealed = errors.New("seal: value is not sealed")
	// ErrMalformed: the value has the Prefix but not the format.
	ErrMalformed = errors.New("seal: malformed sealed value")
	// ErrUnknownKey: the value names a key ID the keyring does not have.
	ErrUnknownKey = errors.New("seal: unknown key ID")
	// ErrWrongKey: the KEK with the value's key ID does not unwrap its data
	// key: the key material is not the one the value was sealed with (or
	// the wrapped key was altered).
	ErrWrongKey = errors.New("seal: wrong key")
	// ErrTampered: the data key unwrapped but the value does not open: its
	// ciphertext was altered, or it was sealed for other associated data
	// (copied from another row or column).
	ErrTampered = errors.New("seal: value tampered with or sealed for another place")
	// ErrBadKey: a key given to the keyring is not valid (see ParseKey).
	ErrBadKey = errors.New("seal: bad key")
)

// UnknownKeyError names the key ID that a value needs and the keyring
// lacks. It is ErrUnknownKey (errors.Is).
type UnknownKeyError struct{ ID string }

// Error implements error.
func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("seal: value sealed under key ID %q, which no configured master key has", e.ID)
}

// Is reports target == ErrUnknownKey.
func (e *UnknownKeyError) Is(target error) bool { return target == ErrUnknownKey }

// Key is one key-encryption key: an ID and 32 bytes.
type Key struct {
	ID     string
	Secret []byte
}

// String returns the key in the form ParseKey reads: "id:base64".
func (k Key) String() string { return k.ID + ":" + base64.StdEncoding.EncodeToString(k.Secret) }

// GenerateKey returns a new random key with the given ID.
func GenerateKey(id string) (Key, error) {
	if err := checkKeyID(id); err != nil {
		return Key{}, err
	}
	k := Key{ID: id, Secret: make([]byte, KeySize)}
	if _, err := rand.Read(k.Secret); err != nil {
		return Key{}, fmt.Errorf("seal: generate key: %w", err)
	}
	return k, nil
}

// ParseKey reads a key written "id:base64": an ID of 1 to 32 letters,
// digits, '.', '_' or '-', a colon, then 32 bytes in standard or URL
// base64 (padded or not). Errors are ErrBadKey and never repeat the key
// material.
func ParseKey(s string) (Key, error) {
	id, enc, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return Key{}, fmt.Errorf("%w: want id:base64-of-32-bytes", ErrBadKey)
	}
	if err := checkKeyID(id); err != nil {
		return Key{}, err
	}
	var secret []byte
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := e.DecodeString(enc); err == nil {
			secret = b
			break
		}
	}
	if secret == nil {
		return Key{}, fmt.Errorf("%w: key %q: the part after the colon is not base64", ErrBadKey, id)
	}
	if len(secret) != KeySize {
		return Key{}, fmt.Errorf("%w: key %q has %d bytes, want %d", ErrBadKey, id, len(secret), KeySize)
	}
	return Key{ID: id, Secret: secret}, nil
}

func checkKeyID(id string) error {
	if id == "" || len(id) > maxKeyIDLen {
		return fmt.Errorf("%w: key ID %q must be 1 to %d characters", ErrBadKey, id, maxKeyIDLen)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("%w: key ID %q may hold only letters, digits, '.', '_' and '-'", ErrBadKey, id)
		}
	}
	return nil
}

// Keyring seals under its primary (first) key and opens under any of its
// keys. It is safe for concurrent use.
type Keyring struct {
	primary string
	ids     []string
	keks    map[string]cipher.AEAD
}

// NewKeyring returns a keyring of keys, the first being the primary. It
// needs at least one key and distinct IDs.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: a keyring needs at least one key", ErrBadKey)
	}
	k := &Keyring{primary: keys[0].ID, keks: make(map[string]cipher.AEAD, len(keys))}
	for _, key := range keys {
		if err := checkKeyID(key.ID); err != nil {
			return nil, err
		}
		if len(key.Secret) != KeySize {
			return nil, fmt.Errorf("%w: key %q has %d bytes, want %d", ErrBadKey, key.ID, len(key.Secret), KeySize)
		}
		if _, dup := k.keks[key.ID]; dup {
			return nil, fmt.Errorf("%w: key ID %q is given twice", ErrBadKey, key.ID)
		}
		aead, err := newGCM(key.Secret)
		if err != nil {
			return nil, err
		}
		k.keks[key.ID] = aead
		k.ids = append(k.ids, key.ID)
	}
	return k, nil
}

// PrimaryID returns the ID of the key that seals.
func (k *Keyring) PrimaryID() string { return k.primary }

// IDs returns the keys' IDs, primary first.
func (k *Keyring) IDs() []string { return append([]string(nil), k.ids...) }

// IsSealed reports whether stored has the sealed form's prefix; a value
// without it is a plaintext value from before encryption.
func IsSealed(stored string) bool { return strings.HasPrefix(stored, Prefix) }

// KeyID returns the ID of the key a sealed value was sealed under.
func KeyID(stored string) (string, error) {
	p, err := parse(stored)
	if err != nil {
		return "", err
	}
	return p.kid, nil
}

// Seal encrypts plaintext under a fresh data key wrapped by the primary
// key, bound to aad.
func (k *Keyring) Seal(plaintext, aad []byte) (string, error) {
	dek := make([]byte, KeySize)
	if _, err := rand.Read(dek); err != nil {
		return "", fmt.Errorf("seal: data key: %w", err)
	}
	value, err := newGCM(dek)
	if err != nil {
		return "", err
	}
	buf := make([]byte, headerSize, headerSize+len(plaintext)+tagSize)
	if _, err := rand.Read(buf[headerSize-nonceSize : headerSize]); err != nil {
		return "", fmt.Errorf("seal: nonce: %w", err)
	}
	buf = value.Seal(buf, buf[headerSize-nonceSize:headerSize], plaintext, aad)
	if err := k.wrap(k.primary, dek, buf[:nonceSize+wrappedSize]); err != nil {
		return "", err
	}
	return Prefix + k.primary + ":" + b64.EncodeToString(buf), nil
}

// Open decrypts a sealed value, checking that it was sealed for aad.
// Errors: ErrNotSealed, ErrMalformed, *UnknownKeyError, ErrWrongKey,
// ErrTampered.
func (k *Keyring) Open(stored string, aad []byte) ([]byte, error) {
	p, err := parse(stored)
	if err != nil {
		return nil, err
	}
	dek, err := k.unwrap(p)
	if err != nil {
		return nil, err
	}
	value, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	out, err := value.Open(nil, p.raw[headerSize-nonceSize:headerSize], p.raw[headerSize:], aad)
	if err != nil {
		return nil, ErrTampered
	}
	return out, nil
}

// Rewrap returns stored with its data key wrapped by the primary key, and
// whether that changed anything (false when it already was). The value's
// ciphertext is kept as it is; it is still checked against aad, so that a
// damaged value is found now rather than when it is needed. Errors are
// Open's.
func (k *Keyring) Rewrap(stored string, aad []byte) (string, bool, error) {
	p, err := parse(stored)
	if err != nil {
		return "", false, err
	}
	if p.kid == k.primary {
		if _, err := k.Open(stored, aad); err != nil {
			return "", false, err
		}
		return stored, false, nil
	}
	dek, err := k.unwrap(p)
	if err != nil {
		return "", false, err
	}
	value, err := newGCM(dek)
	if err != nil {
		return "", false, err
	}
	if _, err := value.Open(nil, p.raw[headerSize-nonceSize:headerSize], p.raw[headerSize:], aad); err != nil {
		return "", false, ErrTampered
	}
	buf := append([]byte(nil), p.raw...)
	if err := k.wrap(k.primary, dek, buf[:nonceSize+wrappedSize]); err != nil {
		return "", false, err
	}
	return Prefix + k.primary + ":" + b64.EncodeToString(buf), true, nil
}

// wrap writes into dst (nonce then wrapped key) dek encrypted by KEK kid.
// The wrap is bound to the format and key ID.
func (k *Keyring) wrap(kid string, dek, dst []byte) error {
	if _, err := rand.Read(dst[:nonceSize]); err != nil {
		return fmt.Errorf("seal: nonce: %w", err)
	}
	k.keks[kid].Seal(dst[nonceSize:nonceSize], dst[:nonceSize], dek, []byte(Prefix+kid))
	return nil
}

func (k *Keyring) unwrap(p parsed) ([]byte, error) {
	kek, ok := k.keks[p.kid]
	if !ok {
		return nil, &UnknownKeyError{ID: p.kid}
	}
	dek, err := kek.Open(nil, p.raw[:nonceSize], p.raw[nonceSize:nonceSize+wrappedSize], []byte(Prefix+p.kid))
	if err != nil {
		return nil, fmt.Errorf("%w: key ID %q does not open the value's data key", ErrWrongKey, p.kid)
	}
	return dek, nil
}

type parsed struct {
	kid string
	raw []byte
}

func parse(stored string) (parsed, error) {
	rest, ok := strings.CutPrefix(stored, Prefix)
	if !ok {
		return parsed{}, ErrNotSealed
	}
	kid, enc, ok := strings.Cut(rest, ":")
	if !ok || checkKeyID(kid) != nil {
		return parsed{}, ErrMalformed
	}
	raw, err := b64.DecodeString(enc)
	if err != nil || len(raw) < headerSize+tagSize {
		return parsed{}, ErrMalformed
	}
	return parsed{kid: kid, raw: raw}, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead, nil
}
