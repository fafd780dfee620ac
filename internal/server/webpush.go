package server

import (
	"context"

	"github.com/heraldim/herald/internal/push"
)

// webPushKey is the VAPID public key of appID's Web Push provider (the
// login reply's webPushKey), "" when the app has none installed.
func (s *Server) webPushKey(appID string) string {
	for _, env := range []push.Environment{push.Production, push.Development} {
		p, err := s.Providers.Provider(context.Background(), appID, push.VendorWebPush, env)
		if err != nil {
			continue
		}
		if k, ok := p.(interface{ PublicKey() string }); ok {
			return k.PublicKey()
		}
	}
	return ""
}
