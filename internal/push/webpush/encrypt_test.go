package webpush

import (
	"bytes"
	"crypto/ecdh"
	"encoding/base64"
	"testing"
)

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEncryptRFC8291AppendixA: with the RFC's application server key pair
// and salt, the RFC's plaintext for the RFC's subscription encrypts to the
// RFC's message byte for byte (RFC 8291 Appendix A).
func TestEncryptRFC8291AppendixA(t *testing.T) {
	as, err := ecdh.P256().NewPrivateKey(b64(t, "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"))
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.RawURLEncoding.EncodeToString(as.PublicKey().Bytes()); got != "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8" {
		t.Fatalf("as_public %s", got)
	}
	uaPublic := b64(t, "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4")
	auth := b64(t, "BTBZMqHH6r4Tts7J_aSIgg")
	salt := b64(t, "DGv6ra1nlYgDCS1FRnbzlw")
	got, err := encrypt(as, salt, uaPublic, auth, []byte("When I grow up, I want to be a watermelon"))
	if err != nil {
		t.Fatal(err)
	}
	want := b64(t, "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN")
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %s\nwant %s", base64.RawURLEncoding.EncodeToString(got), base64.RawURLEncoding.EncodeToString(want))
	}
}

// TestEncryptLimit: 3993 bytes of plaintext make a 4096-byte record body
// with its header; one more byte is refused.
func TestEncryptLimit(t *testing.T) {
	ua, _ := ecdh.P256().GenerateKey(nil)
	auth := make([]byte, 16)
	body, err := Encrypt(make([]byte, MaxPlaintext), ua.PublicKey().Bytes(), auth)
	if err != nil || len(body) != RecordSize {
		t.Fatalf("max plaintext: %d bytes, %v", len(body), err)
	}
	if _, err := Encrypt(make([]byte, MaxPlaintext+1), ua.PublicKey().Bytes(), auth); err == nil {
		t.Fatal("a plaintext over the limit was encrypted")
	}
}
