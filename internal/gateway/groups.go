package gateway

import "github.com/heraldim/herald/internal/protocol"

// handleGroup handles the group request types and reports whether f was one.
func (s *Session) handleGroup(f protocol.Frame) bool {
	if !protocol.IsGroupType(f.Type) {
		return false
	}
	s.replyErr(f.ID, protocol.Errorf(protocol.CodeUnavailable, "groups are not enabled on this server"))
	return true
}
