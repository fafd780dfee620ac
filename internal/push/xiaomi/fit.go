package xiaomi

import (
	"errors"

	"github.com/heraldim/herald/internal/push"
)

var _ push.Fitter = (*Provider)(nil)

// Fit cuts n to what MiPush accepts: a title shorter than
// Config.MaxTitleRunes and a description shorter than
// Config.MaxDescriptionRunes characters (Xiaomi counts every code point as
// one), cut between grapheme clusters, and a payload of at most
// Config.MaxPayloadBytes, dropped when over. See push.FitTo.
func (p *Provider) Fit(n push.Notification) (push.Notification, []string) {
	now := p.cfg.Now()
	return push.FitTo(n, push.Limits{
		Vendor:  push.VendorXiaomi,
		Title:   func(s string) string { return push.CutRunes(s, p.cfg.MaxTitleRunes-1) },
		Content: func(s string) string { return push.CutRunes(s, p.cfg.MaxDescriptionRunes-1) },
		Fits: func(m push.Notification) bool {
			_, err := p.buildForm(m, now)
			return !errors.Is(err, push.ErrPayloadTooLarge)
		},
	})
}
