package herald

import (
	"context"
	"fmt"

	"github.com/heraldim/herald/internal/protocol"
)

// PlatformType is ZIM's ZIMPlatformType: the platforms an offline push
// rule names.
type PlatformType int

// The platforms (ZIMPlatformType numbers).
const (
	PlatformTypeWin         PlatformType = protocol.PlatformWin
	PlatformTypeIPhoneOS    PlatformType = protocol.PlatformIPhoneOS
	PlatformTypeAndroid     PlatformType = protocol.PlatformAndroid
	PlatformTypeMacOS       PlatformType = protocol.PlatformMacOS
	PlatformTypeLinux       PlatformType = protocol.PlatformLinux
	PlatformTypeWeb         PlatformType = protocol.PlatformWeb
	PlatformTypeMiniProgram PlatformType = protocol.PlatformMiniProgram
	PlatformTypeIPadOS      PlatformType = protocol.PlatformIPadOS
)

// UserOfflinePushRule is ZIM's ZIMUserOfflinePushRule: while the user is
// online on one of OnlinePlatforms, its devices on one of
// NotToReceiveOfflinePushPlatforms get no offline push.
type UserOfflinePushRule struct {
	OnlinePlatforms                  []PlatformType
	NotToReceiveOfflinePushPlatforms []PlatformType
}

// UserRule is ZIM's ZIMUserRule.
type UserRule struct {
	OfflinePushRule UserOfflinePushRule
}

// SelfUserInfo is ZIM's ZIMSelfUserInfo: the user's rule and profile.
type SelfUserInfo struct {
	UserRule     UserRule
	UserFullInfo UserFullInfo
}

// UpdateUserOfflinePushRule sets the user's offline push rule and returns
// it as stored; every session of the user (this one too) gets
// UserRuleUpdated. A platform that is not a PlatformType fails with
// CodeInvalidPushPlatform, more than 16 in a list with
// CodeTooManyPushPlatforms; nothing changes then.
func (c *Client) UpdateUserOfflinePushRule(ctx context.Context, rule UserOfflinePushRule) (UserOfflinePushRule, error) {
	var r protocol.UpdateUserOfflinePushRuleReply
	if err := c.call(ctx, protocol.TypeUpdateUserOfflinePushRule, protocol.UpdateUserOfflinePushRuleRequest{OfflinePushRule: ruleToWire(rule)}, &r); err != nil {
		return UserOfflinePushRule{}, fmt.Errorf("herald: update user offline push rule: %w", err)
	}
	return ruleFromWire(r.OfflinePushRule), nil
}

// QuerySelfUserInfo returns the user's rule (both lists empty while it
// has none) and its profile.
func (c *Client) QuerySelfUserInfo(ctx context.Context) (SelfUserInfo, error) {
	var r protocol.SelfUserInfo
	if err := c.call(ctx, protocol.TypeQuerySelfUserInfo, struct{}{}, &r); err != nil {
		return SelfUserInfo{}, fmt.Errorf("herald: query self user info: %w", err)
	}
	u := r.UserInfo
	return SelfUserInfo{UserRule: UserRule{OfflinePushRule: ruleFromWire(r.UserRule.OfflinePushRule)},
		UserFullInfo: UserFullInfo{UserID: u.UserID, Nickname: u.Nickname, AvatarURL: u.AvatarURL, Extra: u.Extra}}, nil
}

// pushRuleEvent decodes userRuleUpdated; it reports whether f was one.
func (c *Client) pushRuleEvent(f protocol.Frame) bool {
	if f.Type != protocol.EventUserRuleUpdated {
		return false
	}
	var d protocol.UserRuleUpdated
	if !c.decodeEvent(f, &d) {
		return true
	}
	rule := UserRule{OfflinePushRule: ruleFromWire(d.UserRule.OfflinePushRule)}
	c.enqueue(&event{kind: evNotify, notify: func(h EventHandler) {
		if h.UserRuleUpdated != nil {
			h.UserRuleUpdated(rule)
		}
	}})
	return true
}

func ruleToWire(r UserOfflinePushRule) protocol.OfflinePushRule {
	out := protocol.OfflinePushRule{OnlinePlatforms: []int{}, NotToReceiveOfflinePushPlatforms: []int{}}
	for _, p := range r.OnlinePlatforms {
		out.OnlinePlatforms = append(out.OnlinePlatforms, int(p))
	}
	for _, p := range r.NotToReceiveOfflinePushPlatforms {
		out.NotToReceiveOfflinePushPlatforms = append(out.NotToReceiveOfflinePushPlatforms, int(p))
	}
	return out
}

func ruleFromWire(r protocol.OfflinePushRule) UserOfflinePushRule {
	out := UserOfflinePushRule{OnlinePlatforms: []PlatformType{}, NotToReceiveOfflinePushPlatforms: []PlatformType{}}
	for _, p := range r.OnlinePlatforms {
		out.OnlinePlatforms = append(out.OnlinePlatforms, PlatformType(p))
	}
	for _, p := range r.NotToReceiveOfflinePushPlatforms {
		out.NotToReceiveOfflinePushPlatforms = append(out.NotToReceiveOfflinePushPlatforms, PlatformType(p))
	}
	return out
}

// The push rule's error codes.
const (
	CodeInvalidPushPlatform  = int(protocol.CodeInvalidPushPlatform)  // a platform that is not a PlatformType
	CodeTooManyPushPlatforms = int(protocol.CodeTooManyPushPlatforms) // a list of more than 16 platforms
)
