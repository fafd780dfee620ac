package vivo

import (
	"errors"

	"github.com/heraldim/herald/internal/push"
)

var _ push.Fitter = (*Provider)(nil)

// Fit cuts n to what vivo accepts: a title of at most [MaxTitleUnits] and
// a content of at most [MaxContentUnits] width units as vivo counts them
// (see textUnits), cut between grapheme clusters, and clientCustomMap
// (payload and custom data) of at most [MaxCustomPairs] pairs and
// [MaxCustomChars] characters: the payload is dropped when it does not
// fit. See push.FitTo.
func (p *Provider) Fit(n push.Notification) (push.Notification, []string) {
	now := p.now()
	return push.FitTo(n, push.Limits{
		Vendor:  push.VendorVivo,
		Title:   func(s string) string { return push.CutUnits(s, MaxTitleUnits, textUnits) },
		Content: func(s string) string { return push.CutUnits(s, MaxContentUnits, textUnits) },
		Fits: func(m push.Notification) bool {
			_, err := p.buildBody(m, now)
			return !errors.Is(err, push.ErrPayloadTooLarge)
		},
	})
}
