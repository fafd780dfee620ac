package harmony

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/heraldim/herald/internal/push"
)

// Revoking a shown notification: Push Kit's message revoke
// ("消息撤回", https://developer.huawei.com/consumer/cn/doc/harmonyos-references/push-msg-revoke;
// guide "撤回通知消息", harmonyOS-guides/push-revoke-alert). One
// POST {base}/v1/{clientId}/messages:revoke ("撤回消息接口使用v1版本URL,并且
// 路径参数使用clientId", not the v3 project path of send) with the same
// service-account JWT, push-type 0 (notification message) and
// {"notifyId": <the notification's notifyId>, "token": [Token]}. It
// removes a notification "还未下发到端侧" or "已在终端展示但用户还未点击",
// and does not change the badge. The answer is {"code","msg","requestId"}
// like send's and is translated by the same table (80000000 Delivered,
// 80300007 DropDevice, the JWT codes AuthFailed, ...).

var _ push.Revoker = (*Provider)(nil)

// Revokes reports whether the Provider can revoke: it has Config.ClientID.
func (p *Provider) Revokes() bool { return p.revokeURL != "" }

// Revoke removes the notification of n's replace key (n.CollapseID, sent as
// notifyId by Send) from n.Token's device; see above. Without a
// CollapseID, or without Config.ClientID, it returns an error wrapping
// push.ErrInvalidNotification without calling Push Kit.
func (p *Provider) Revoke(ctx context.Context, n push.Notification) (push.Result, error) {
	if p.revokeURL == "" {
		return push.Result{}, fmt.Errorf("harmony: revoke: no client ID configured: %w", push.ErrInvalidNotification)
	}
	if n.CollapseID == "" {
		return push.Result{}, fmt.Errorf("harmony: revoke: no replace key to revoke: %w", push.ErrInvalidNotification)
	}
	body, err := json.Marshal(struct {
		NotifyID int      `json:"notifyId"`
		Token    []string `json:"token"`
	}{push.NumericCollapseID(n.CollapseID), []string{n.Token}})
	if err != nil {
		return push.Result{}, fmt.Errorf("harmony: revoke: %w", err)
	}
	tok, err := p.token(p.now())
	if err != nil {
		return push.Result{}, err
	}
	status, header, raw, err := p.postTo(ctx, p.revokeURL, tok, pushTypeAlert, body)
	if err != nil {
		return push.Result{}, fmt.Errorf("harmony: revoke: %w", err)
	}
	res := translate(status, header, raw, n.Token, p.now())
	if res.Outcome == push.AuthFailed {
		p.forget(tok)
	}
	return res, nil
}

// revokeURLOf is the revoke endpoint of clientID under base ("" without a
// client ID).
func revokeURLOf(base, clientID string) string {
	if clientID == "" {
		return ""
	}
	return base + "/v1/" + url.PathEscape(clientID) + "/messages:revoke"
}
