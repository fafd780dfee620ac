package gateway

import (
	"context"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
)

// The user offline push rule's requests (im/pushrule.go) and the session's
// PushID as the other goroutines see it.

// SessionChanged is an optional part of Presence: told when a live
// session's PushID changed (registerPush, unregisterPush), so that a
// cluster's presence carries it (route.SessionInfo.PushID).
type SessionChanged interface {
	SessionChanged(appID, userID string)
}

// handlePushRule handles the push rule request types and reports whether
// f was one.
func (s *Session) handlePushRule(f protocol.Frame) bool {
	switch f.Type {
	case protocol.TypeUpdateUserOfflinePushRule:
		query(s, f, func(ctx context.Context, appID, userID string, req protocol.UpdateUserOfflinePushRuleRequest) (protocol.UpdateUserOfflinePushRuleReply, error) {
			r, err := s.g.svc.UpdateUserOfflinePushRule(ctx, appID, userID, req.OfflinePushRule)
			return protocol.UpdateUserOfflinePushRuleReply{OfflinePushRule: r}, err
		})
	case protocol.TypeQuerySelfUserInfo:
		query(s, f, func(ctx context.Context, appID, userID string, _ struct{}) (protocol.SelfUserInfo, error) {
			r, err := s.g.svc.UserOfflinePushRule(ctx, appID, userID)
			if err != nil {
				return protocol.SelfUserInfo{}, err
			}
			out := protocol.SelfUserInfo{UserRule: protocol.UserRule{OfflinePushRule: r}, UserInfo: protocol.UserInfo{UserID: userID}}
			us, err := s.g.svc.UserInfo(ctx, appID, userID, im.UserInfoQuery{UserIDs: []string{userID}})
			if err != nil {
				return protocol.SelfUserInfo{}, err
			}
			if len(us.Users) == 1 {
				u := us.Users[0]
				out.UserInfo = protocol.UserInfo{UserID: u.UserID, Nickname: u.Nickname, AvatarURL: u.AvatarURL, Extra: u.Extra}
			}
			return out, nil
		})
	default:
		return false
	}
	return true
}

// setPushID sets the session's PushID (reader goroutine) and its shared
// copy, and tells presence when a logged-in session's changed.
func (s *Session) setPushID(id string) {
	changed := s.pushID != id
	s.pushID = id
	s.sharedPushID.Store(&id)
	if changed && s.loggedIn.Load() {
		if sc, ok := s.g.cfg.Presence.(SessionChanged); ok {
			sc.SessionChanged(s.appID, s.userID)
		}
	}
}

// currentPushID is the session's PushID from any goroutine.
func (s *Session) currentPushID() string {
	if p := s.sharedPushID.Load(); p != nil {
		return *p
	}
	return ""
}
