package gateway

import "github.com/heraldim/herald/internal/protocol"

// handleGroup handles the group request types and reports whether f was one.
func (s *Session) handleGroup(f protocol.Frame) bool {
	svc := s.g.svc
	switch f.Type {
	case protocol.TypeGroupCreate:
		query(s, f, svc.CreateGroup)
	case protocol.TypeGroupJoin:
		query(s, f, svc.JoinGroup)
	case protocol.TypeGroupLeave:
		query(s, f, svc.LeaveGroup)
	case protocol.TypeGroupInvite:
		query(s, f, svc.InviteToGroup)
	case protocol.TypeGroupKick:
		query(s, f, svc.KickFromGroup)
	case protocol.TypeGroupDismiss:
		query(s, f, svc.DismissGroup)
	case protocol.TypeGroupTransfer:
		query(s, f, svc.TransferGroup)
	case protocol.TypeGroupSetRole:
		query(s, f, svc.SetGroupRole)
	case protocol.TypeGroupInfo:
		query(s, f, svc.GroupInfo)
	case protocol.TypeGroupMembers:
		query(s, f, svc.GroupMembers)
	case protocol.TypeGroupList:
		query(s, f, svc.GroupList)
	case protocol.TypeGroupSetJoinMode:
		query(s, f, svc.SetGroupJoinMode)
	case protocol.TypeGroupAcceptApplication:
		query(s, f, svc.AcceptGroupApplication)
	case protocol.TypeGroupRejectApplication:
		query(s, f, svc.RejectGroupApplication)
	case protocol.TypeGroupApplicationList:
		query(s, f, svc.GroupApplicationList)
	default:
		return false
	}
	return true
}
