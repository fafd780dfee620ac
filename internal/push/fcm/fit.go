package fcm

import (
	"errors"

	"github.com/heraldim/herald/internal/push"
)

var _ push.Fitter = (*Provider)(nil)

// Fit cuts n to FCM's message limit ([MaxBodyBytes]), measured on the
// request body exactly as Send encodes it; see push.FitTo for the order
// in which content, title and payload give way.
func (p *Provider) Fit(n push.Notification) (push.Notification, []string) {
	now := p.now()
	return push.FitTo(n, push.Limits{Vendor: push.VendorFCM, Fits: func(m push.Notification) bool {
		_, err := buildBody(m, now)
		return !errors.Is(err, push.ErrPayloadTooLarge)
	}})
}
