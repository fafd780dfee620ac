package gateway

import (
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
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
