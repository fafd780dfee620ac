package im

import "github.com/heraldim/herald/internal/protocol"

// The group requests and replies of Service, in im's own types: the
// gateway and the admin REST API convert from their wire forms and back
// with the Wire functions below, which the group events use too.

// GroupCreate creates a group. GroupID is optional: the service makes one
// when it is empty. JoinMode nil: protocol.DefaultJoinMode.
type GroupCreate struct {
	GroupID      string
	Name         string
	ExtendedData string
	Members      []string
	JoinMode     *int
}

// GroupJoin asks to join a group; Message goes with the join request of a
// group in approval mode.
type GroupJoin struct {
	GroupID string
	Message string
}

// GroupRef names a group (leave, dismiss, info).
type GroupRef struct {
	GroupID string
}

// GroupUsers names users of a group (invite, kick).
type GroupUsers struct {
	GroupID string
	UserIDs []string
}

// GroupTransfer makes another member the owner.
type GroupTransfer struct {
	GroupID  string
	ToUserID string
}

// GroupSetRole makes a member an admin or a plain member.
type GroupSetRole struct {
	GroupID string
	UserID  string
	Role    int
}

// GroupSetJoinMode changes a group's join mode.
type GroupSetJoinMode struct {
	GroupID  string
	JoinMode int
}

// GroupApplicationRef names a user's join request to a group.
type GroupApplicationRef struct {
	GroupID string
	UserID  string
}

// GroupPage pages through a group's members or join requests, in user ID
// order. Next is the previous page's Next (empty for the first).
type GroupPage struct {
	GroupID string
	Count   int // 0: the default page size
	Next    string
}

// GroupListQuery pages through the user's groups in group ID order.
type GroupListQuery struct {
	Count int // 0: the default page size
	Next  string
}

// UserError names a user a group request did not apply to, and why.
type UserError struct {
	UserID  string
	Code    protocol.Code
	Message string
}

// GroupResult is a group as the asking user sees it (create, join, info).
type GroupResult struct {
	Group  Group
	MyRole int // 0: not a member, or the app's server
	// ErrorUsers (create) names the members that could not be added.
	ErrorUsers []UserError
	// Pending (join of a group in approval mode) says the user is not a
	// member yet: Application is its join request, and Group carries the
	// group's ID and join mode only.
	Pending     bool
	Application *JoinRequest
}

// GroupUsersResult is what an invite or a kick changed: the users, the
// member count after it, and the users it did not apply to.
type GroupUsersResult struct {
	UserIDs     []string
	MemberCount int
	ErrorUsers  []UserError
}

// GroupMembersPage is a page of members; Next is empty on the last.
type GroupMembersPage struct {
	Members []GroupMember
	Next    string
}

// GroupListPage is a page of the user's groups; Next is empty on the last.
type GroupListPage struct {
	Groups []UserGroup
	Next   string
}

// JoinRequestPage is a page of a group's join requests; Next is empty on
// the last.
type JoinRequestPage struct {
	Applications []JoinRequest
	Next         string
}

// userErrors takes the errors of protocol.SplitUserIDs.
func userErrors(es []protocol.GroupErrorUser) []UserError {
	if es == nil {
		return nil
	}
	out := make([]UserError, len(es))
	for i, e := range es {
		out[i] = UserError(e)
	}
	return out
}

// WireUserErrors is a request's user errors on the wire.
func WireUserErrors(es []UserError) []protocol.GroupErrorUser {
	if es == nil {
		return nil
	}
	out := make([]protocol.GroupErrorUser, len(es))
	for i, e := range es {
		out[i] = protocol.GroupErrorUser(e)
	}
	return out
}

// WireGroupResult is a create's, join's or info's reply on the wire.
func WireGroupResult(r GroupResult) protocol.GroupReply {
	out := protocol.GroupReply{ErrorUserList: WireUserErrors(r.ErrorUsers), Pending: r.Pending}
	if r.Pending {
		out.Group = protocol.Group{GroupID: r.Group.ID, JoinMode: r.Group.JoinMode}
	} else {
		out.Group = WireGroup(r.Group, r.MyRole)
	}
	if r.Application != nil {
		app := WireApplication(*r.Application)
		out.Application = &app
	}
	return out
}

// WireGroupUsers is an invite's or a kick's reply on the wire.
func WireGroupUsers(r GroupUsersResult) protocol.GroupUsersReply {
	return protocol.GroupUsersReply{UserIDs: r.UserIDs, MemberCount: r.MemberCount, ErrorUserList: WireUserErrors(r.ErrorUsers)}
}

// WireGroupMember is a member on the wire.
func WireGroupMember(m GroupMember) protocol.GroupMember {
	return protocol.GroupMember{UserID: m.UserID, Role: m.Role, JoinedAt: m.JoinedAt.UnixMilli()}
}

// WireGroupMembers is a page of members on the wire.
func WireGroupMembers(p GroupMembersPage) protocol.GroupMembersReply {
	out := protocol.GroupMembersReply{Members: make([]protocol.GroupMember, 0, len(p.Members)), Next: p.Next}
	for _, m := range p.Members {
		out.Members = append(out.Members, WireGroupMember(m))
	}
	return out
}

// WireGroupList is a page of the user's groups on the wire.
func WireGroupList(p GroupListPage) protocol.GroupListReply {
	out := protocol.GroupListReply{Groups: make([]protocol.Group, 0, len(p.Groups)), Next: p.Next}
	for _, g := range p.Groups {
		out.Groups = append(out.Groups, WireGroup(g.Group, g.Role))
	}
	return out
}

// WireJoinRequests is a page of join requests on the wire.
func WireJoinRequests(p JoinRequestPage) protocol.GroupApplicationListReply {
	out := protocol.GroupApplicationListReply{Applications: make([]protocol.GroupApplication, 0, len(p.Applications)), Next: p.Next}
	for _, r := range p.Applications {
		out.Applications = append(out.Applications, WireApplication(r))
	}
	return out
}
