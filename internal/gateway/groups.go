package gateway

import (
	"context"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
)

// handleGroup handles the group request types and reports whether f was one.
func (s *Session) handleGroup(f protocol.Frame) bool {
	svc := s.g.svc
	switch f.Type {
	case protocol.TypeGroupCreate:
		query(s, f, wire(svc.CreateGroup, groupCreate, WireGroupResult))
	case protocol.TypeGroupJoin:
		query(s, f, wire(svc.JoinGroup, groupJoin, WireGroupResult))
	case protocol.TypeGroupLeave:
		query(s, f, wire(svc.LeaveGroup, groupRef, noReply))
	case protocol.TypeGroupInvite:
		query(s, f, wire(svc.InviteToGroup, groupUsers, WireGroupUsers))
	case protocol.TypeGroupKick:
		query(s, f, wire(svc.KickFromGroup, groupUsers, WireGroupUsers))
	case protocol.TypeGroupDismiss:
		query(s, f, wire(svc.DismissGroup, groupRef, noReply))
	case protocol.TypeGroupTransfer:
		query(s, f, wire(svc.TransferGroup, groupTransfer, noReply))
	case protocol.TypeGroupSetRole:
		query(s, f, wire(svc.SetGroupRole, groupSetRole, noReply))
	case protocol.TypeGroupInfo:
		query(s, f, wire(svc.GroupInfo, groupRef, WireGroupResult))
	case protocol.TypeGroupMembers:
		query(s, f, wire(svc.GroupMembers, groupMembersPage, WireGroupMembers))
	case protocol.TypeGroupList:
		query(s, f, wire(svc.GroupList, groupListQuery, WireGroupList))
	case protocol.TypeGroupSetJoinMode:
		query(s, f, wire(svc.SetGroupJoinMode, groupSetJoinMode, noReply))
	case protocol.TypeGroupAcceptApplication:
		query(s, f, wire(svc.AcceptGroupApplication, groupApplicationRef, WireApplication))
	case protocol.TypeGroupRejectApplication:
		query(s, f, wire(svc.RejectGroupApplication, groupApplicationRef, WireApplication))
	case protocol.TypeGroupApplicationList:
		query(s, f, wire(svc.GroupApplicationList, groupApplicationsPage, WireJoinRequests))
	default:
		return false
	}
	return true
}

// wire gives a Service method taking and returning im types the wire
// signature of query: in converts the decoded request, out the reply.
func wire[WReq, Req, Rep, WRep any](fn func(ctx context.Context, appID, userID string, req Req) (Rep, error),
	in func(WReq) Req, out func(Rep) WRep) func(ctx context.Context, appID, userID string, req WReq) (WRep, error) {
	return func(ctx context.Context, appID, userID string, req WReq) (WRep, error) {
		r, err := fn(ctx, appID, userID, in(req))
		if err != nil {
			var zero WRep
			return zero, err
		}
		return out(r), nil
	}
}

// noReply is the empty reply of the requests that return nothing.
func noReply(struct{}) struct{} { return struct{}{} }

func groupCreate(r protocol.GroupCreateRequest) im.GroupCreate {
	return im.GroupCreate{GroupID: r.GroupID, Name: r.Name, ExtendedData: r.ExtendedData, Members: r.Members, JoinMode: r.JoinMode}
}

func groupJoin(r protocol.GroupJoinRequest) im.GroupJoin {
	return im.GroupJoin{GroupID: r.GroupID, Message: r.Message}
}

func groupRef(r protocol.GroupRequest) im.GroupRef { return im.GroupRef{GroupID: r.GroupID} }

func groupUsers(r protocol.GroupUsersRequest) im.GroupUsers {
	return im.GroupUsers{GroupID: r.GroupID, UserIDs: r.UserIDs}
}

func groupTransfer(r protocol.GroupTransferRequest) im.GroupTransfer {
	return im.GroupTransfer{GroupID: r.GroupID, ToUserID: r.ToUserID}
}

func groupSetRole(r protocol.GroupSetRoleRequest) im.GroupSetRole {
	return im.GroupSetRole{GroupID: r.GroupID, UserID: r.UserID, Role: r.Role}
}

func groupMembersPage(r protocol.GroupMembersRequest) im.GroupPage {
	return im.GroupPage{GroupID: r.GroupID, Count: r.Count, Next: r.Next}
}

func groupListQuery(r protocol.GroupListRequest) im.GroupListQuery {
	return im.GroupListQuery{Count: r.Count, Next: r.Next}
}

func groupSetJoinMode(r protocol.GroupSetJoinModeRequest) im.GroupSetJoinMode {
	return im.GroupSetJoinMode{GroupID: r.GroupID, JoinMode: r.JoinMode}
}

func groupApplicationRef(r protocol.GroupApplicationRequest) im.GroupApplicationRef {
	return im.GroupApplicationRef{GroupID: r.GroupID, UserID: r.UserID}
}

func groupApplicationsPage(r protocol.GroupApplicationListRequest) im.GroupPage {
	return im.GroupPage{GroupID: r.GroupID, Count: r.Count, Next: r.Next}
}
