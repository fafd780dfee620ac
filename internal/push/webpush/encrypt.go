package webpush

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// The aes128gcm content coding as Web Push uses it (RFC 8188 §2, RFC 8291
// §4): one record of at most RecordSize bytes.
const (
	// RecordSize is the rs of every push message: RFC 8291 §4 requires a
	// push message to be a single record of 4096 octets at most.
	RecordSize = 4096
	// headerLen is the coding's header with a P-256 key as its keyid:
	// salt (16) || rs (4) || idlen (1) || keyid (65).
	headerLen = 16 + 4 + 1 + 65
	// tagLen is AES-GCM's authentication tag.
	tagLen = 16
	// MaxPlaintext is the most a push message carries: 4096 − 86 − 16 − 1
	// (the padding delimiter) = 3993 octets (RFC 8291 §4).
	MaxPlaintext = RecordSize - headerLen - tagLen - 1
)

// errTooLarge: the plaintext exceeds MaxPlaintext.
var errTooLarge = errors.New("webpush: plaintext over 3993 bytes")

// Encrypt encrypts plaintext for the browser whose subscription has the
// ECDH public key uaPublic (65 bytes, uncompressed) and the auth secret
// auth (16 bytes), with a fresh application server key pair and salt, as
// RFC 8291 §3 and §4 say. The result is the request body (aes128gcm
// header with the server's public key as keyid, then the one record).
func Encrypt(plaintext, uaPublic, auth []byte) ([]byte, error) {
	as, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("webpush: ephemeral key: %w", err)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("webpush: salt: %w", err)
	}
	return encrypt(as, salt, uaPublic, auth, plaintext)
}

// encrypt is Encrypt with the server's key pair and the salt given (RFC
// 8291 Appendix A's vector fixes both).
//
//	ecdh_secret = ECDH(as_private, ua_public)
//	PRK_key     = HKDF-Extract(salt=auth_secret, IKM=ecdh_secret)
//	key_info    = "WebPush: info" || 0x00 || ua_public || as_public
//	IKM         = HKDF-Expand(PRK_key, key_info, 32)
//	PRK         = HKDF-Extract(salt, IKM)
//	CEK         = HKDF-Expand(PRK, "Content-Encoding: aes128gcm" || 0x00, 16)
//	NONCE       = HKDF-Expand(PRK, "Content-Encoding: nonce" || 0x00, 12)
//
// and the record is AES-128-GCM(CEK, NONCE, plaintext || 0x02): 0x02
// marks the last record, with no padding after it (RFC 8188 §2).
func encrypt(as *ecdh.PrivateKey, salt, uaPublic, auth, plaintext []byte) ([]byte, error) {
	if len(plaintext) > MaxPlaintext {
		return nil, errTooLarge
	}
	ua, err := ecdh.P256().NewPublicKey(uaPublic)
	if err != nil {
		return nil, fmt.Errorf("webpush: subscription key: %w", err)
	}
	secret, err := as.ECDH(ua)
	if err != nil {
		return nil, fmt.Errorf("webpush: ECDH: %w", err)
	}
	cek, nonce, err := deriveKeys(secret, ua.Bytes(), as.PublicKey().Bytes(), auth, salt)
	if err != nil {
		return nil, err
	}
	gcm, err := newGCM(cek)
	if err != nil {
		return nil, err
	}
	asPublic := as.PublicKey().Bytes()
	out := make([]byte, 0, headerLen+len(plaintext)+1+tagLen)
	out = append(out, salt...)
	out = binary.BigEndian.AppendUint32(out, RecordSize)
	out = append(out, byte(len(asPublic)))
	out = append(out, asPublic...)
	record := append(append(make([]byte, 0, len(plaintext)+1), plaintext...), 0x02)
	return gcm.Seal(out, nonce, record, nil), nil
}

// deriveKeys derives the content encryption key and nonce (RFC 8291
// §3.3, §3.4) from the ECDH secret, both public keys, the auth secret and
// the salt.
func deriveKeys(secret, uaPublic, asPublic, auth, salt []byte) (cek, nonce []byte, err error) {
	prkKey, err := hkdf.Extract(sha256.New, secret, auth)
	if err != nil {
		return nil, nil, fmt.Errorf("webpush: HKDF: %w", err)
	}
	keyInfo := "WebPush: info\x00" + string(uaPublic) + string(asPublic)
	ikm, err := hkdf.Expand(sha256.New, prkKey, keyInfo, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("webpush: HKDF: %w", err)
	}
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, nil, fmt.Errorf("webpush: HKDF: %w", err)
	}
	if cek, err = hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16); err != nil {
		return nil, nil, fmt.Errorf("webpush: HKDF: %w", err)
	}
	if nonce, err = hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12); err != nil {
		return nil, nil, fmt.Errorf("webpush: HKDF: %w", err)
	}
	return cek, nonce, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("webpush: AES: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("webpush: GCM: %w", err)
	}
	return gcm, nil
}
