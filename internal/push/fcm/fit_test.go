package fcm

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// TestFitFastPathIsSound: a push Fit passes without trying the encoder
// encodes within FCM's limit even when every string is made of the bytes
// JSON escapes most (control characters), up to the bound's edge;
// one over it is measured and cut.
func TestFitFastPathIsSound(t *testing.T) {
	p := &Provider{now: time.Now}
	worst := "\x01" // escaped to \u0001: 6 bytes out per byte in
	fill := func(n int) string { return strings.Repeat(worst, n/len(worst)+1)[:n/len(worst)*len(worst)] }
	// The token, package name and collapse ID are escaped at worst too, so
	// that the bound's slack is nowhere but in its fixed part.
	base := push.Notification{ID: strings.Repeat(worst, 36), Token: strings.Repeat(worst, 163),
		Kind: push.KindAlert, Priority: push.PriorityHigh, Topic: strings.Repeat(worst, 16), CollapseID: strings.Repeat(worst, 8),
		Expiration: time.Now().Add(time.Hour)}
	budget := (MaxBodyBytes - overhead(base) - len(`"":"",`)) / push.MaxJSONEscape
	each := budget / 4
	n := base
	n.Title, n.Content, n.Payload, n.Extra = fill(each), fill(each), fill(each), map[string]string{"k": fill(each - 1)}
	got, cuts := p.Fit(n)
	if len(cuts) != 0 || got.Content != n.Content || got.Payload != n.Payload {
		t.Fatalf("a push within the bound was cut: %v", cuts)
	}
	if _, err := buildBody(got, time.Now()); err != nil {
		t.Fatalf("the fast path let through a push FCM refuses: %v", err)
	}
	n.Content = fill(4 * each)
	got, cuts = p.Fit(n)
	if len(cuts) == 0 || got.Extra[push.TruncatedKey] == "" {
		t.Fatal("an oversized push was not cut")
	}
	if _, err := buildBody(got, time.Now()); err != nil {
		t.Fatalf("cut push still refused: %v", err)
	}
}
