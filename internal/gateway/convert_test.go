package gateway

import (
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/route"
)

// TestGroupReplies: each group reply converts to the wire shape the
// clients and the admin REST API read: times in Unix ms, an empty error
// list left out, a pending join with the group's ID and join mode only,
// empty pages as empty lists (not null).
func TestGroupReplies(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123)
	g := im.Group{AppID: "app", ID: "g1", Name: "team", ExtendedData: "x", Owner: "alice",
		MemberCount: 3, LastSeq: 9, CreatedAt: at, JoinMode: protocol.JoinModeAny}
	req := im.JoinRequest{AppID: "app", GroupID: "g1", UserID: "bob", Message: "hi",
		State: im.JoinPending, CreatedAt: at, UpdatedAt: at.Add(time.Second)}
	code := callJSON(t, protocol.CodeUserNotFound)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"group", WireGroupResult(im.GroupResult{Group: g, MyRole: protocol.RoleOwner}),
			`{"group":{"groupID":"g1","name":"team","extendedData":"x","ownerUserID":"alice","memberCount":3,` +
				`"createdAt":1700000000123,"myRole":` + callJSON(t, protocol.RoleOwner) + `,"joinMode":` + callJSON(t, protocol.JoinModeAny) + `}}`},
		{"created with errors", WireGroupResult(im.GroupResult{Group: g,
			ErrorUsers: []im.UserError{{UserID: "nobody", Code: protocol.CodeUserNotFound, Message: "no such user"}}}),
			`{"group":{"groupID":"g1","name":"team","extendedData":"x","ownerUserID":"alice","memberCount":3,` +
				`"createdAt":1700000000123,"joinMode":` + callJSON(t, protocol.JoinModeAny) + `},` +
				`"errorUserList":[{"userID":"nobody","code":` + code + `,"message":"no such user"}]}`},
		{"pending join", WireGroupResult(im.GroupResult{Group: g, Pending: true, Application: &req}),
			`{"group":{"groupID":"g1","name":"","ownerUserID":"","memberCount":0,"createdAt":0,"joinMode":` + callJSON(t, protocol.JoinModeAny) + `},` +
				`"pending":true,"application":{"groupID":"g1","userID":"bob","message":"hi","state":"pending",` +
				`"createdAt":1700000000123,"updatedAt":1700000001123}}`},
		{"users", WireGroupUsers(im.GroupUsersResult{UserIDs: []string{"bob"}, MemberCount: 4}),
			`{"userIDs":["bob"],"memberCount":4}`},
		{"users with errors", WireGroupUsers(im.GroupUsersResult{UserIDs: []string{}, MemberCount: 3,
			ErrorUsers: []im.UserError{{UserID: "bob", Code: protocol.CodeUserNotFound, Message: "m"}}}),
			`{"userIDs":[],"memberCount":3,"errorUserList":[{"userID":"bob","code":` + code + `,"message":"m"}]}`},
		{"members", WireGroupMembers(im.GroupMembersPage{Next: "bob",
			Members: []im.GroupMember{{UserID: "alice", Role: protocol.RoleOwner, JoinedSeq: 5, JoinedAt: at}}}),
			`{"members":[{"userID":"alice","role":` + callJSON(t, protocol.RoleOwner) + `,"joinedAt":1700000000123}],"next":"bob"}`},
		{"no members", WireGroupMembers(im.GroupMembersPage{}), `{"members":[]}`},
		{"list", WireGroupList(im.GroupListPage{Groups: []im.UserGroup{{Group: g, Role: protocol.RoleMember}}}),
			`{"groups":[{"groupID":"g1","name":"team","extendedData":"x","ownerUserID":"alice","memberCount":3,` +
				`"createdAt":1700000000123,"myRole":` + callJSON(t, protocol.RoleMember) + `,"joinMode":` + callJSON(t, protocol.JoinModeAny) + `}]}`},
		{"no groups", WireGroupList(im.GroupListPage{}), `{"groups":[]}`},
		{"join requests", WireJoinRequests(im.JoinRequestPage{Next: "carol", Applications: []im.JoinRequest{
			{GroupID: "g1", UserID: "bob", State: im.JoinAccepted, CreatedAt: at, UpdatedAt: at},
			{GroupID: "g1", UserID: "bea", State: im.JoinRejected, CreatedAt: at, UpdatedAt: at}}}),
			`{"applications":[{"groupID":"g1","userID":"bob","state":"accepted","createdAt":1700000000123,"updatedAt":1700000000123},` +
				`{"groupID":"g1","userID":"bea","state":"rejected","createdAt":1700000000123,"updatedAt":1700000000123}],"next":"carol"}`},
		{"no join requests", WireJoinRequests(im.JoinRequestPage{}), `{"applications":[]}`},
		{"no user errors", WireUserErrors(nil), `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := callJSON(t, tt.v); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestGroupEvents: each group event converts to its wire type and shape;
// a dismissed group's state change carries an empty group (times 0, not
// the zero time's milliseconds).
func TestGroupEvents(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123)
	g := im.Group{ID: "g1", Name: "team", Owner: "alice", MemberCount: 2, CreatedAt: at, JoinMode: protocol.JoinModeAny}
	req := im.JoinRequest{GroupID: "g1", UserID: "bob", Message: "hi", State: im.JoinRejected, CreatedAt: at, UpdatedAt: at}
	wireReq := `{"groupID":"g1","userID":"bob","message":"hi","state":"rejected","createdAt":1700000000123,"updatedAt":1700000000123}`
	mode := callJSON(t, protocol.JoinModeAny)
	tests := []struct {
		name, typ string
		ev        im.GroupEvent
		want      string
	}{
		{"entered", protocol.EventGroupStateChanged, im.GroupStateChanged{GroupID: "g1", State: protocol.GroupStateEnter,
			Event: protocol.GroupEventCreated, OperatedBy: "alice", Group: &g, Role: protocol.RoleMember},
			`{"groupID":"g1","state":"` + protocol.GroupStateEnter + `","event":"` + protocol.GroupEventCreated + `","operatedBy":"alice",` +
				`"group":{"groupID":"g1","name":"team","ownerUserID":"alice","memberCount":2,"createdAt":1700000000123,"myRole":` +
				callJSON(t, protocol.RoleMember) + `,"joinMode":` + mode + `}}`},
		{"dismissed", protocol.EventGroupStateChanged, im.GroupStateChanged{GroupID: "g1", State: protocol.GroupStateQuit,
			Event: protocol.GroupEventDismissed},
			`{"groupID":"g1","state":"` + protocol.GroupStateQuit + `","event":"` + protocol.GroupEventDismissed + `","operatedBy":"",` +
				`"group":{"groupID":"","name":"","ownerUserID":"","memberCount":0,"createdAt":0,"joinMode":0}}`},
		{"members entered", protocol.EventGroupMemberStateChanged, im.GroupMemberStateChanged{GroupID: "g1", State: protocol.GroupStateEnter,
			Event: protocol.GroupEventInvited, UserIDs: []string{"bob"}, OperatedBy: "alice", MemberCount: 2},
			`{"groupID":"g1","state":"` + protocol.GroupStateEnter + `","event":"` + protocol.GroupEventInvited + `","userIDs":["bob"],` +
				`"operatedBy":"alice","memberCount":2}`},
		{"roles", protocol.EventGroupMemberInfoUpdated, im.GroupMemberInfoUpdated{GroupID: "g1", OperatedBy: "alice",
			Members: []im.GroupMember{{UserID: "bob", Role: protocol.RoleAdmin, JoinedSeq: 3, JoinedAt: at}}},
			`{"groupID":"g1","members":[{"userID":"bob","role":` + callJSON(t, protocol.RoleAdmin) + `,"joinedAt":1700000000123}],"operatedBy":"alice"}`},
		{"roles, none", protocol.EventGroupMemberInfoUpdated, im.GroupMemberInfoUpdated{GroupID: "g1"},
			`{"groupID":"g1","members":null,"operatedBy":""}`},
		{"application filed", protocol.EventGroupApplicationListChanged, im.GroupApplicationListChanged{Action: "added", Application: req},
			`{"action":"added","application":` + wireReq + `}`},
		{"application decided", protocol.EventGroupApplicationUpdated, im.GroupApplicationUpdated{Application: req, OperatedBy: "alice"},
			`{"application":` + wireReq + `,"operatedBy":"alice"}`},
		{"join mode", protocol.EventGroupJoinModeUpdated, im.GroupJoinModeUpdated{GroupID: "g1", JoinMode: protocol.JoinModeInviteOnly, OperatedBy: "alice"},
			`{"groupID":"g1","joinMode":` + callJSON(t, protocol.JoinModeInviteOnly) + `,"operatedBy":"alice"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, v := WireGroupEvent(tt.ev)
			if typ != tt.typ {
				t.Fatalf("type %q, want %q", typ, tt.typ)
			}
			if got := callJSON(t, v); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// wireRouter records the events IMRouter sends.
type wireRouter struct {
	sentEvents
}

func (*wireRouter) Route(*im.Message, route.SessionID)                      {}
func (*wireRouter) RouteGroup(*im.Message, []im.Recipient, route.SessionID) {}

// TestIMRouter: the messaging core's router over a wire router sends each
// group event as its wire type.
func TestIMRouter(t *testing.T) {
	var w wireRouter
	r := IMRouter(&w)
	r.GroupEvent("app", "bob", im.GroupJoinModeUpdated{GroupID: "g1"})
	if !r.Online("app", "bob") || len(w.typs) != 1 || w.typs[0] != protocol.EventGroupJoinModeUpdated {
		t.Fatalf("sent %v", w.typs)
	}
}

// TestUserInfoReply: the profiles in the order given and the refused IDs,
// both lists present when empty.
func TestUserInfoReply(t *testing.T) {
	tests := []struct {
		name string
		r    im.UserInfoResult
		want string
	}{
		{"empty", im.UserInfoResult{}, `{"users":[],"errorUserList":[]}`},
		{"users and errors", im.UserInfoResult{
			Users:      []im.User{{AppID: "app", UserID: "bob", Nickname: "Bob", AvatarURL: "u", Extra: "x", CreatedAt: time.Now()}, {UserID: "amy"}},
			ErrorUsers: []im.UserError{{UserID: "n o", Code: protocol.CodeInvalidUserID, Message: "m"}}},
			`{"users":[{"userID":"bob","nickname":"Bob","avatarURL":"u","extra":"x"},{"userID":"amy","nickname":"","avatarURL":"","extra":""}],` +
				`"errorUserList":[{"userID":"n o","code":` + callJSON(t, protocol.CodeInvalidUserID) + `,"message":"m"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := callJSON(t, userInfoReply(tt.r)); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	if q := userInfoQuery(protocol.UserInfoRequest{UserIDs: []string{"a", "b"}}); len(q.UserIDs) != 2 || q.UserIDs[1] != "b" {
		t.Fatalf("query %+v", q)
	}
}
