package seal

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func mustKey(t *testing.T, id string) Key {
	t.Helper()
	k, err := GenerateKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustRing(t *testing.T, keys ...Key) *Keyring {
	t.Helper()
	r, err := NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSealOpen(t *testing.T) {
	r := mustRing(t, mustKey(t, "k1"))
	aad := []byte("apps/app1/secret")
	for _, pt := range []string{"", "s3cr3t", strings.Repeat("x", 10000)} {
		s, err := r.Seal([]byte(pt), aad)
		if err != nil {
			t.Fatal(err)
		}
		if !IsSealed(s) || !strings.HasPrefix(s, "hs1:k1:") {
			t.Fatalf("sealed form %q lacks hs1:k1:", s)
		}
		if pt != "" && strings.Contains(s, pt) {
			t.Fatalf("sealed form holds the plaintext")
		}
		got, err := r.Open(s, aad)
		if err != nil || string(got) != pt {
			t.Fatalf("Open = %q, %v; want %q", got, err, pt)
		}
		if kid, err := KeyID(s); err != nil || kid != "k1" {
			t.Fatalf("KeyID = %q, %v", kid, err)
		}
	}
	a, _ := r.Seal([]byte("same"), aad)
	b, _ := r.Seal([]byte("same"), aad)
	if a == b {
		t.Fatal("two seals of one value are equal: data key or nonce reused")
	}
}

func TestOpenErrors(t *testing.T) {
	k1 := mustKey(t, "k1")
	r := mustRing(t, k1)
	aad := []byte("apps/app1/secret")
	good, err := r.Seal([]byte("s3cr3t"), aad)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := b64.DecodeString(strings.TrimPrefix(good, "hs1:k1:"))
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return "hs1:k1:" + b64.EncodeToString(b)
	}
	sameIDOtherKey := mustRing(t, Key{ID: "k1", Secret: mustKey(t, "x").Secret})
	for _, c := range []struct {
		name   string
		ring   *Keyring
		stored string
		aad    string
		want   error
	}{
		{"plaintext", r, "s3cr3t", "apps/app1/secret", ErrNotSealed},
		{"no key ID", r, "hs1:" + b64.EncodeToString(raw), "apps/app1/secret", ErrMalformed},
		{"bad base64", r, "hs1:k1:!!!", "apps/app1/secret", ErrMalformed},
		{"truncated", r, "hs1:k1:" + b64.EncodeToString(raw[:headerSize]), "apps/app1/secret", ErrMalformed},
		{"unknown key ID", mustRing(t, mustKey(t, "k2")), good, "apps/app1/secret", ErrUnknownKey},
		{"wrong key material", sameIDOtherKey, good, "apps/app1/secret", ErrWrongKey},
		{"wrapped key altered", r, flip(nonceSize + 3), "apps/app1/secret", ErrWrongKey},
		{"value nonce altered", r, flip(headerSize - 1), "apps/app1/secret", ErrTampered},
		{"ciphertext altered", r, flip(headerSize), "apps/app1/secret", ErrTampered},
		{"tag altered", r, flip(len(raw) - 1), "apps/app1/secret", ErrTampered},
		{"other row", r, good, "apps/app2/secret", ErrTampered},
		{"other column", r, good, "apps/app1/admin_key", ErrTampered},
		{"key ID swapped", mustRing(t, k1, Key{ID: "k2", Secret: k1.Secret}), "hs1:k2:" + b64.EncodeToString(raw), "apps/app1/secret", ErrWrongKey},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.ring.Open(c.stored, []byte(c.aad))
			if !errors.Is(err, c.want) {
				t.Fatalf("Open = %q, %v; want %v", got, err, c.want)
			}
			if got != nil {
				t.Fatalf("Open returned %q with an error", got)
			}
		})
	}
	_, err = mustRing(t, mustKey(t, "k2")).Open(good, aad)
	var uk *UnknownKeyError
	if !errors.As(err, &uk) || uk.ID != "k1" || !strings.Contains(err.Error(), `"k1"`) {
		t.Fatalf("unknown key error %v does not name k1", err)
	}
}

func TestRotation(t *testing.T) {
	old, next := mustKey(t, "2025"), mustKey(t, "2026")
	aad := []byte("push_credentials/app1/fcm")
	sealed, err := mustRing(t, old).Seal([]byte("credential"), aad)
	if err != nil {
		t.Fatal(err)
	}
	both := mustRing(t, next, old)
	if got, err := both.Open(sealed, aad); err != nil || string(got) != "credential" {
		t.Fatalf("rotated ring Open = %q, %v", got, err)
	}
	re, changed, err := both.Rewrap(sealed, aad)
	if err != nil || !changed {
		t.Fatalf("Rewrap = %v, %v", changed, err)
	}
	if kid, _ := KeyID(re); kid != "2026" {
		t.Fatalf("rewrapped under %q, want 2026", kid)
	}
	// Only the data key changed: the value's nonce and ciphertext are kept.
	rawOld, _ := b64.DecodeString(strings.TrimPrefix(sealed, "hs1:2025:"))
	rawNew, _ := b64.DecodeString(strings.TrimPrefix(re, "hs1:2026:"))
	if !bytes.Equal(rawOld[headerSize-nonceSize:], rawNew[headerSize-nonceSize:]) {
		t.Fatal("Rewrap re-encrypted the value")
	}
	if bytes.Equal(rawOld[:nonceSize+wrappedSize], rawNew[:nonceSize+wrappedSize]) {
		t.Fatal("Rewrap kept the old wrapped key")
	}
	onlyNew := mustRing(t, next)
	if got, err := onlyNew.Open(re, aad); err != nil || string(got) != "credential" {
		t.Fatalf("new key alone Open = %q, %v", got, err)
	}
	if _, err := onlyNew.Open(sealed, aad); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old value under new key alone: %v, want ErrUnknownKey", err)
	}
	if again, changed, err := onlyNew.Rewrap(re, aad); err != nil || changed || again != re {
		t.Fatalf("Rewrap of a primary value = %v, %v", changed, err)
	}
	if _, _, err := both.Rewrap(sealed, []byte("push_credentials/app2/fcm")); !errors.Is(err, ErrTampered) {
		t.Fatalf("Rewrap with other aad: %v, want ErrTampered", err)
	}
	if _, _, err := both.Rewrap("plain", aad); !errors.Is(err, ErrNotSealed) {
		t.Fatalf("Rewrap of plaintext: %v, want ErrNotSealed", err)
	}
}

func TestParseKey(t *testing.T) {
	k := mustKey(t, "prod-2026.1")
	got, err := ParseKey(k.String())
	if err != nil || got.ID != k.ID || !bytes.Equal(got.Secret, k.Secret) {
		t.Fatalf("ParseKey(String()) = %v, %v", got, err)
	}
	secret := k.String()[len(k.ID)+1:]
	for _, c := range []struct{ in, want string }{
		{"nokey", "want id:base64"},
		{":" + secret, "1 to 32"},
		{"a/b:" + secret, "only letters"},
		{strings.Repeat("a", 33) + ":" + secret, "1 to 32"},
		{"k:not base64!", "not base64"},
		{"k:" + secret[:20], "bytes, want 32"},
	} {
		_, err := ParseKey(c.in)
		if !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseKey(%q) = %v, want ErrBadKey saying %q", c.in, err, c.want)
		}
		if err != nil && len(c.in) > 40 && strings.Contains(err.Error(), secret) {
			t.Errorf("error %v repeats the key material", err)
		}
	}
	if _, err := NewKeyring(); !errors.Is(err, ErrBadKey) {
		t.Errorf("empty keyring: %v", err)
	}
	if _, err := NewKeyring(k, k); !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate IDs: %v", err)
	}
}
