package herald

import (
	"context"
	"fmt"

	"github.com/heraldim/herald/internal/protocol"
)

// RegisterPush registers the device's push channel while logged in and
// binds it to the user, as Config.Push does at login: the seed's
// registerPush when the vendor token arrives after login (or changes, after
// a reinstall or a switch of vendor), and setPushConfig switching this
// device's pushes off (reg.Disabled) and on again. It returns the device's
// PushID, which PushID reports from then on.
//
// The server unbinds the device this Client registered before, if that
// was another one, once the new one is bound; Logout unbinds the new one.
// Every later login, the reconnects included, carries reg instead of
// Config.Push.
//
// A *Error with CodeInvalidPushDevice (a bad registration) or
// CodeDeviceInUse (another user's live session bound that device) changes
// nothing, on the server or here. Without a login in force it is
// ErrNotLoggedIn; on ErrDisconnected or a timeout the server may or may
// not have bound the device: call it again once reconnected.
func (c *Client) RegisterPush(ctx context.Context, reg PushRegistration) (string, error) {
	var r protocol.RegisterPushReply
	if err := c.call(ctx, protocol.TypeRegisterPush, reg.wire(), &r); err != nil {
		return "", fmt.Errorf("herald: register push: %w", err)
	}
	c.push.Store(&reg)
	c.pushID.Store(&r.PushID)
	return r.PushID, nil
}

// WebPushKey returns the app's VAPID public key (base64url) from the last
// login, "" when the app has no Web Push credential or before a login: the
// applicationServerKey a browser subscribes with before RegisterPush with
// vendor "webpush" and the subscription's JSON as Token.
func (c *Client) WebPushKey() string {
	if k := c.webPushKey.Load(); k != nil {
		return *k
	}
	return ""
}
