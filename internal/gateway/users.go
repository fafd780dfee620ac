package gateway

import "github.com/heraldim/herald/internal/protocol"

// handleUser handles the user request types and reports whether f was
// one.
func (s *Session) handleUser(f protocol.Frame) bool {
	if f.Type != protocol.TypeUserInfo {
		return false
	}
	query(s, f, s.g.svc.UserInfo)
	return true
}
