package apns

import (
	"errors"

	"github.com/heraldim/herald/internal/push"
)

var _ push.Fitter = (*Provider)(nil)

// Fit cuts n to APNs' payload limit (MaxPayload, MaxVoIPPayload for VoIP
// pushes: 4096 and 5120 bytes by default), measured on the body exactly as
// Send encodes it, JSON escaping included; see push.FitTo for the order
// in which content, title and payload give way.
func (p *Provider) Fit(n push.Notification) (push.Notification, []string) {
	now := p.now()
	return push.FitTo(n, push.Limits{Vendor: push.VendorAPNs, Fits: func(m push.Notification) bool {
		_, err := buildRequest(m, now, p.maxPayload, p.maxVoIPPayload)
		return !errors.Is(err, push.ErrPayloadTooLarge)
	}})
}
