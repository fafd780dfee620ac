package apns

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// TestFitFastPathIsSound: a push Fit returns without trying the encoder
// (its strings, escaped at worst, plus the fixed overhead are within the
// limit) really encodes within the limit, with the worst-escaping bytes
// JSON knows (control characters, <, > and &) in every string; and
// one over that bound is still measured and cut.
func TestFitFastPathIsSound(t *testing.T) {
	p := &Provider{now: time.Now, maxPayload: DefaultMaxPayload, maxVoIPPayload: DefaultMaxVoIPPayload}
	tok := strings.Repeat("ab", 32)
	worst := "\x01<>&" // each escaped to \u00XX: 6 bytes out per byte in
	for _, kind := range []push.Kind{push.KindAlert, push.KindVoIP} {
		limit := p.maxPayload
		if kind == push.KindVoIP {
			limit = p.maxVoIPPayload
		}
		// The largest strings the fast path accepts: 6 bytes out per byte
		// in, plus the overhead and the Extra entry's punctuation.
		budget := (limit - fixedBodyBytes - len(`"":"",`)) / push.MaxJSONEscape
		each := budget / 4
		fill := func(n int) string { return strings.Repeat(worst, n/len(worst)+1)[:n/len(worst)*len(worst)] }
		n := push.Notification{Token: tok, Environment: push.Production, Kind: kind, Priority: push.PriorityHigh,
			Topic: "com.example.chat", Title: fill(each), Content: fill(each), Payload: fill(each),
			Extra: map[string]string{"k": fill(each - 1)}}
		got, cuts := p.Fit(n)
		if len(cuts) != 0 || got.Title != n.Title || got.Payload != n.Payload {
			t.Fatalf("%s: a push within the bound was cut: %v", kind, cuts)
		}
		if _, err := buildRequest(got, time.Now(), p.maxPayload, p.maxVoIPPayload); err != nil {
			t.Fatalf("%s: the fast path let through a push APNs refuses: %v", kind, err)
		}
		// Twice that is over the limit once escaped: measured and cut.
		n.Content = fill(4 * each)
		got, cuts = p.Fit(n)
		if len(cuts) == 0 || got.Extra[push.TruncatedKey] == "" {
			t.Fatalf("%s: an oversized push was not cut", kind)
		}
		if _, err := buildRequest(got, time.Now(), p.maxPayload, p.maxVoIPPayload); err != nil {
			t.Fatalf("%s: cut push still refused: %v", kind, err)
		}
	}
}
