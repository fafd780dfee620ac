package honor

import (
	"errors"

	"github.com/heraldim/herald/internal/push"
)

var _ push.Fitter = (*Provider)(nil)

// Fit cuts n to Honor's body limit ([MaxBodyBytes], tokens excluded),
// measured on the body exactly as Send encodes it: data is a JSON string
// inside the JSON body, so a quote in the payload costs four bytes. See
// push.FitTo for the order in which content, title and payload give way.
func (p *Provider) Fit(n push.Notification) (push.Notification, []string) {
	now := p.now()
	return push.FitTo(n, push.Limits{Vendor: push.VendorHonor, Fits: func(m push.Notification) bool {
		_, err := p.buildBody(m, now)
		return !errors.Is(err, push.ErrPayloadTooLarge)
	}})
}
