package im

import "github.com/heraldim/herald/internal/protocol"

// The group requests and replies of Service, in im's own types: the
// gateway and the admin REST API convert from their wire forms and back
// (the reply converters are the gateway's, in its convert.go).

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
