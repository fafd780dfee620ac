package push

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestWebSubscriptionRegistration: a web push registration's token is the
// browser's subscription JSON; two spellings of one subscription (padded
// keys, expirationTime, key order) are one device with one PushID, stored
// in the canonical form; a subscription that is not https, or whose keys
// have the wrong size or are no point of P-256, is refused.
func TestWebSubscriptionRegistration(t *testing.T) {
	k, _ := ecdh.P256().GenerateKey(rand.Reader)
	p256dh := base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes())
	auth := base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef"))
	const ep = "https://push.example.com/wpush/v2/abc"
	a := fmt.Sprintf(`{"endpoint":%q,"keys":{"p256dh":%q,"auth":%q}}`, ep, p256dh, auth)
	b := fmt.Sprintf(`{"keys": {"auth": %q, "p256dh": %q}, "expirationTime": null, "endpoint": %q}`,
		base64.URLEncoding.EncodeToString([]byte("0123456789abcdef")), base64.URLEncoding.EncodeToString(k.PublicKey().Bytes()), ep)
	reg := func(tok string) Registration {
		return Registration{Vendor: VendorWebPush, Token: tok, Environment: Production, BundleID: "https://chat.example.com"}
	}
	da, err := reg(a).Device("app", "u")
	if err != nil {
		t.Fatal(err)
	}
	db, err := reg(b).Device("app", "u")
	if err != nil {
		t.Fatal(err)
	}
	if da.PushID != db.PushID || da.Token != a || db.Token != a {
		t.Fatalf("two spellings: %s %s, tokens %s / %s", da.PushID, db.PushID, da.Token, db.Token)
	}
	bad := map[string]string{
		"not json":     "abc",
		"http":         strings.Replace(a, "https://", "http://", 1),
		"relative":     strings.Replace(a, "https://push.example.com", "", 1),
		"short auth":   strings.Replace(a, auth, "AAAA", 1),
		"short p256dh": strings.Replace(a, p256dh, p256dh[:40], 1),
		"not a point":  strings.Replace(a, p256dh, "B"+strings.Repeat("A", 86), 1),
		"huge":         strings.Replace(a, ep, ep+"/"+strings.Repeat("x", MaxWebTokenLen), 1),
	}
	for name, tok := range bad {
		if _, err := reg(tok).Validate("app"); !errors.Is(err, ErrInvalidRegistration) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
