package harmony

import (
	"errors"

	"github.com/heraldim/herald/internal/push"
)

var _ push.Fitter = (*Provider)(nil)

// Fit cuts n to Push Kit's body limit ([MaxBodyBytes], the token
// excluded), measured on the body exactly as Send encodes it (extraData is
// a JSON string inside the JSON body, so a quote in the payload costs more
// there). See push.FitTo for the order in which content, title and payload
// give way.
func (p *Provider) Fit(n push.Notification) (push.Notification, []string) {
	now := p.now()
	return push.FitTo(n, push.Limits{Vendor: push.VendorHarmony, Fits: func(m push.Notification) bool {
		_, _, err := p.buildBody(m, now)
		return !errors.Is(err, push.ErrPayloadTooLarge)
	}})
}
