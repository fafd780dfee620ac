package oppo

import (
	"errors"

	"github.com/heraldim/herald/internal/push"
)

var _ push.Fitter = (*Provider)(nil)

// Fit cuts n to what OPPO accepts: a title of at most [MaxTitleRunes] and
// a content of at most [MaxContentRunes] characters (OPPO counts a Chinese
// character or an emoji code point as one), cut between grapheme
// clusters, and action_parameters (payload and custom data) of at most
// [MaxActionParametersBytes]: the payload is dropped when it does not fit.
// See push.FitTo.
func (p *Provider) Fit(n push.Notification) (push.Notification, []string) {
	now := p.now()
	return push.FitTo(n, push.Limits{
		Vendor:  push.VendorOPPO,
		Title:   func(s string) string { return push.CutRunes(s, MaxTitleRunes) },
		Content: func(s string) string { return push.CutRunes(s, MaxContentRunes) },
		Fits: func(m push.Notification) bool {
			_, err := p.buildMessage(m, now)
			return !errors.Is(err, push.ErrPayloadTooLarge)
		},
	})
}
