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
	return push.FitTo(n, push.Limits{Vendor: push.VendorFCM, MaxBytes: MaxBodyBytes, Overhead: overhead(n),
		Fits: func(m push.Notification) bool {
			_, err := buildBody(m, now)
			return !errors.Is(err, push.ErrPayloadTooLarge)
		}})
}

// fixedBodyBytes bounds what FCM's request body holds besides the
// notification's strings: the keys and punctuation of {"message":{"token",
// "notification":{...},"android":{"priority","ttl","collapse_key",
// "restricted_package_name","notification":{...}},"data":{...}}} and the
// numbers come to under 300 bytes; 512 leaves room for keys added later.
const fixedBodyBytes = 512

// overhead is what n's body holds besides the strings push.Limits counts:
// the fixed part and, escaped at worst, the token, the package name, the
// push's ID (in data) and its collapse ID (collapse_key and tag).
func overhead(n push.Notification) int {
	return fixedBodyBytes + push.MaxJSONEscape*(len(n.Token)+len(n.Topic)+len(n.ID)+2*len(n.CollapseID))
}
