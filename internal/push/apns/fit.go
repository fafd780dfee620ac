package apns

import (
	"errors"

	"github.com/heraldim/herald/internal/push"
)

var _ push.Fitter = (*Provider)(nil)

// fixedBodyBytes bounds what an APNs body holds besides its strings: the
// keys and punctuation of {"aps":{"alert":{"title","body"},"badge","sound",
// "category","content-available"},"payload",...} and the badge number come
// to under 200 bytes; 512 leaves room for keys added later.
const fixedBodyBytes = 512

// Fit cuts n to APNs' payload limit (MaxPayload, MaxVoIPPayload for VoIP
// pushes: 4096 and 5120 bytes by default), measured on the body exactly as
// Send encodes it, JSON escaping included; see push.FitTo for the order
// in which content, title and payload give way.
func (p *Provider) Fit(n push.Notification) (push.Notification, []string) {
	now := p.now()
	limit := p.maxPayload
	if n.Kind == push.KindVoIP {
		limit = p.maxVoIPPayload
	}
	return push.FitTo(n, push.Limits{Vendor: push.VendorAPNs, MaxBytes: limit, Overhead: fixedBodyBytes,
		Fits: func(m push.Notification) bool {
			_, err := buildRequest(m, now, p.maxPayload, p.maxVoIPPayload)
			return !errors.Is(err, push.ErrPayloadTooLarge)
		}})
}
