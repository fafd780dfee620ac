package gateway

import (
	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
)

// handleUser handles the user request types and reports whether f was
// one.
func (s *Session) handleUser(f protocol.Frame) bool {
	if f.Type != protocol.TypeUserInfo {
		return false
	}
	query(s, f, wire(s.g.svc.UserInfo, userInfoQuery, userInfoReply))
	return true
}

func userInfoQuery(r protocol.UserInfoRequest) im.UserInfoQuery {
	return im.UserInfoQuery{UserIDs: r.UserIDs}
}

// userInfoReply is a userInfo reply on the wire: both lists present, empty
// or not.
func userInfoReply(r im.UserInfoResult) protocol.UserInfoReply {
	out := protocol.UserInfoReply{Users: make([]protocol.UserInfo, 0, len(r.Users)),
		ErrorUserList: make([]protocol.UserErrorInfo, 0, len(r.ErrorUsers))}
	for _, u := range r.Users {
		out.Users = append(out.Users, protocol.UserInfo{UserID: u.UserID, Nickname: u.Nickname, AvatarURL: u.AvatarURL, Extra: u.Extra})
	}
	for _, e := range r.ErrorUsers {
		out.ErrorUserList = append(out.ErrorUserList, protocol.UserErrorInfo(e))
	}
	return out
}
