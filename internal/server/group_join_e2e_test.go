package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
)

// joinMode is a create request's join mode.
func joinMode(m int) *int { return &m }

// created creates a group over the WebSocket and consumes the creation
// events of the members named (the creator first).
func created(t *testing.T, req protocol.GroupCreateRequest, owner *testkit.Client, others ...*testkit.Client) protocol.GroupReply {
	t.Helper()
	var r protocol.GroupReply
	mustOK(t, "create "+req.GroupID, owner.Call(protocol.TypeGroupCreate, req, &r))
	for _, c := range append([]*testkit.Client{owner}, others...) {
		event[protocol.GroupStateChanged](t, c, protocol.EventGroupStateChanged)
	}
	return r
}

// until skips events of other types (membership changes of other users)
// until one of type typ, and decodes it.
func until[T any](t *testing.T, c *testkit.Client, typ string) T {
	t.Helper()
	for {
		f := c.Next(wait)
		if f.Type != typ {
			continue
		}
		var v T
		if err := json.Unmarshal(f.Data, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func isMember(t *testing.T, c *testkit.Client, group string) bool {
	t.Helper()
	err := c.Call(protocol.TypeGroupInfo, protocol.GroupRequest{GroupID: group}, nil)
	if err != nil && err.Code != protocol.CodeNotGroupMember {
		t.Fatalf("group info %s: %v", group, err)
	}
	return err == nil
}

// TestGroupJoinModes: a group created without a join mode asks for
// approval; any lets anyone in; invite only refuses; the owner and admins
// change the mode (members are told), others may not; a bad mode changes
// nothing.
func TestGroupJoinModes(t *testing.T) {
	s := testkit.Start(t, nil)
	alice, bob, dave := member(t, s, "alice"), member(t, s, "bob"), member(t, s, "dave")

	if r := created(t, protocol.GroupCreateRequest{GroupID: "ask", Name: "Ask", Members: []string{"bob"}}, alice, bob); r.Group.JoinMode != protocol.JoinModeApproval {
		t.Fatalf("default join mode %d, want %d (approval)", r.Group.JoinMode, protocol.JoinModeApproval)
	}
	created(t, protocol.GroupCreateRequest{GroupID: "open", Name: "Open", JoinMode: joinMode(protocol.JoinModeAny)}, alice)
	created(t, protocol.GroupCreateRequest{GroupID: "closed", Name: "Closed", Members: []string{"bob"}, JoinMode: joinMode(protocol.JoinModeInviteOnly)}, alice, bob)

	// any: dave is a member at once.
	var joined protocol.GroupReply
	mustOK(t, "join open", dave.Call(protocol.TypeGroupJoin, protocol.GroupJoinRequest{GroupID: "open"}, &joined))
	if joined.Pending || joined.Group.MyRole != protocol.RoleMember || joined.Group.JoinMode != protocol.JoinModeAny {
		t.Fatalf("join open: %+v", joined)
	}
	event[protocol.GroupStateChanged](t, dave, protocol.EventGroupStateChanged)
	event[protocol.GroupMemberStateChanged](t, dave, protocol.EventGroupMemberStateChanged)
	event[protocol.GroupMemberStateChanged](t, alice, protocol.EventGroupMemberStateChanged)

	// invite only: refused, nothing changed.
	wantCode(t, "join closed", dave.Call(protocol.TypeGroupJoin, protocol.GroupJoinRequest{GroupID: "closed"}, nil), protocol.CodeGroupInviteOnly)
	if isMember(t, dave, "closed") {
		t.Fatal("dave joined an invite-only group")
	}

	// approval: pending, not a member.
	var asked protocol.GroupReply
	mustOK(t, "join ask", dave.Call(protocol.TypeGroupJoin, protocol.GroupJoinRequest{GroupID: "ask"}, &asked))
	if !asked.Pending || asked.Application == nil || asked.Application.State != protocol.ApplicationPending || asked.Group.MyRole != 0 || asked.Group.Name != "" {
		t.Fatalf("join ask: %+v", asked)
	}
	if isMember(t, dave, "ask") {
		t.Fatal("dave is a member of an approval group before any approval")
	}
	event[protocol.GroupApplicationListChanged](t, alice, protocol.EventGroupApplicationListChanged)

	// Bad changes change nothing.
	wantCode(t, "bad mode", alice.Call(protocol.TypeGroupSetJoinMode, protocol.GroupSetJoinModeRequest{GroupID: "closed", JoinMode: 3}, nil), protocol.CodeInvalidArgument)
	wantCode(t, "negative mode", alice.Call(protocol.TypeGroupSetJoinMode, protocol.GroupSetJoinModeRequest{GroupID: "closed", JoinMode: -1}, nil), protocol.CodeInvalidArgument)
	wantCode(t, "by a plain member", bob.Call(protocol.TypeGroupSetJoinMode, protocol.GroupSetJoinModeRequest{GroupID: "closed", JoinMode: protocol.JoinModeAny}, nil), protocol.CodePermissionDenied)
	wantCode(t, "by a non-member", dave.Call(protocol.TypeGroupSetJoinMode, protocol.GroupSetJoinModeRequest{GroupID: "closed", JoinMode: protocol.JoinModeAny}, nil), protocol.CodeNotGroupMember)
	wantCode(t, "no such group", alice.Call(protocol.TypeGroupSetJoinMode, protocol.GroupSetJoinModeRequest{GroupID: "nope", JoinMode: protocol.JoinModeAny}, nil), protocol.CodeGroupNotFound)
	var info protocol.GroupReply
	mustOK(t, "info", alice.Call(protocol.TypeGroupInfo, protocol.GroupRequest{GroupID: "closed"}, &info))
	if info.Group.JoinMode != protocol.JoinModeInviteOnly {
		t.Fatalf("join mode after refused changes: %d", info.Group.JoinMode)
	}
	alice.NoEvent(50 * time.Millisecond)
	bob.NoEvent(10 * time.Millisecond)

	// An admin opens the group: members are told, dave gets in.
	mustOK(t, "make bob admin", alice.Call(protocol.TypeGroupSetRole, protocol.GroupSetRoleRequest{GroupID: "closed", UserID: "bob", Role: protocol.RoleAdmin}, nil))
	event[protocol.GroupMemberInfoUpdated](t, alice, protocol.EventGroupMemberInfoUpdated)
	event[protocol.GroupMemberInfoUpdated](t, bob, protocol.EventGroupMemberInfoUpdated)
	mustOK(t, "admin opens", bob.Call(protocol.TypeGroupSetJoinMode, protocol.GroupSetJoinModeRequest{GroupID: "closed", JoinMode: protocol.JoinModeAny}, nil))
	for _, c := range []*testkit.Client{alice, bob} {
		if ev := event[protocol.GroupJoinModeUpdated](t, c, protocol.EventGroupJoinModeUpdated); ev.GroupID != "closed" || ev.JoinMode != protocol.JoinModeAny || ev.OperatedBy != "bob" {
			t.Fatalf("join mode event %+v", ev)
		}
	}
	mustOK(t, "join opened", dave.Call(protocol.TypeGroupJoin, protocol.GroupJoinRequest{GroupID: "closed"}, nil))
	if !isMember(t, dave, "closed") {
		t.Fatal("dave not a member after joining an opened group")
	}
}

// TestGroupJoinApproval: a join request reaches the owner and the admins
// (not plain members); a plain member can neither list nor answer it; an
// accepted applicant is a member that gets what is sent from then on, not
// before; a rejected one is told and is no member; answering twice or a
// request never made is no_join_request.
func TestGroupJoinApproval(t *testing.T) {
	s := testkit.Start(t, nil)
	alice, bob, carol, dave, erin := member(t, s, "alice"), member(t, s, "bob"), member(t, s, "carol"), member(t, s, "dave"), member(t, s, "erin")
	created(t, protocol.GroupCreateRequest{GroupID: "g", Name: "G", Members: []string{"bob", "carol"}}, alice, bob, carol)
	mustOK(t, "make bob admin", alice.Call(protocol.TypeGroupSetRole, protocol.GroupSetRoleRequest{GroupID: "g", UserID: "bob", Role: protocol.RoleAdmin}, nil))
	for _, c := range []*testkit.Client{alice, bob, carol} {
		event[protocol.GroupMemberInfoUpdated](t, c, protocol.EventGroupMemberInfoUpdated)
	}

	wantCode(t, "message too long", dave.Call(protocol.TypeGroupJoin, protocol.GroupJoinRequest{GroupID: "g", Message: string(make([]byte, 300))}, nil), protocol.CodeInvalidArgument)
	wantCode(t, "member applies", carol.Call(protocol.TypeGroupJoin, protocol.GroupJoinRequest{GroupID: "g"}, nil), protocol.CodeAlreadyGroupMember)
	var asked protocol.GroupReply
	mustOK(t, "apply", dave.Call(protocol.TypeGroupJoin, protocol.GroupJoinRequest{GroupID: "g", Message: "let me in"}, &asked))
	if !asked.Pending || asked.Application.UserID != "dave" || asked.Application.Message != "let me in" {
		t.Fatalf("apply reply %+v", asked)
	}
	for _, c := range []*testkit.Client{alice, bob} {
		ev := event[protocol.GroupApplicationListChanged](t, c, protocol.EventGroupApplicationListChanged)
		if ev.Action != "added" || ev.Application.GroupID != "g" || ev.Application.UserID != "dave" || ev.Application.Message != "let me in" || ev.Application.State != protocol.ApplicationPending {
			t.Fatalf("application event %+v", ev)
		}
	}
	carol.NoEvent(50 * time.Millisecond)
	wantCode(t, "apply twice", dave.Call(protocol.TypeGroupJoin, protocol.GroupJoinRequest{GroupID: "g"}, nil), protocol.CodeJoinRequestPending)

	// Plain members and strangers may not see or answer requests.
	wantCode(t, "member lists", carol.Call(protocol.TypeGroupApplicationList, protocol.GroupApplicationListRequest{GroupID: "g"}, nil), protocol.CodePermissionDenied)
	wantCode(t, "member accepts", carol.Call(protocol.TypeGroupAcceptApplication, protocol.GroupApplicationRequest{GroupID: "g", UserID: "dave"}, nil), protocol.CodePermissionDenied)
	wantCode(t, "applicant accepts itself", dave.Call(protocol.TypeGroupAcceptApplication, protocol.GroupApplicationRequest{GroupID: "g", UserID: "dave"}, nil), protocol.CodeNotGroupMember)
	wantCode(t, "no request", alice.Call(protocol.TypeGroupAcceptApplication, protocol.GroupApplicationRequest{GroupID: "g", UserID: "erin"}, nil), protocol.CodeNoJoinRequest)
	wantCode(t, "bad user", alice.Call(protocol.TypeGroupRejectApplication, protocol.GroupApplicationRequest{GroupID: "g", UserID: "a b"}, nil), protocol.CodeInvalidUserID)
	if isMember(t, dave, "g") {
		t.Fatal("dave is a member before acceptance")
	}

	var list protocol.GroupApplicationListReply
	mustOK(t, "list", bob.Call(protocol.TypeGroupApplicationList, protocol.GroupApplicationListRequest{GroupID: "g"}, &list))
	if len(list.Applications) != 1 || list.Applications[0].UserID != "dave" || list.Applications[0].State != protocol.ApplicationPending {
		t.Fatalf("list %+v", list)
	}

	// Sent before the acceptance: never reaches dave.
	_, err := sendGroup(t, alice, "g", "m1", "before dave", nil)
	mustOK(t, "send before", err)
	bob.Message(wait)
	carol.Message(wait)

	var acc protocol.GroupApplication
	mustOK(t, "admin accepts", bob.Call(protocol.TypeGroupAcceptApplication, protocol.GroupApplicationRequest{GroupID: "g", UserID: "dave"}, &acc))
	if acc.State != protocol.ApplicationAccepted || acc.UserID != "dave" {
		t.Fatalf("accept reply %+v", acc)
	}
	if ev := event[protocol.GroupStateChanged](t, dave, protocol.EventGroupStateChanged); ev.State != protocol.GroupStateEnter || ev.GroupID != "g" || ev.OperatedBy != "bob" || ev.Group.MyRole != protocol.RoleMember {
		t.Fatalf("dave's enter event %+v", ev)
	}
	event[protocol.GroupMemberStateChanged](t, dave, protocol.EventGroupMemberStateChanged)
	if ev := event[protocol.GroupApplicationUpdated](t, dave, protocol.EventGroupApplicationUpdated); ev.Application.State != protocol.ApplicationAccepted || ev.OperatedBy != "bob" {
		t.Fatalf("dave's outcome %+v", ev)
	}
	for _, c := range []*testkit.Client{alice, bob} {
		event[protocol.GroupMemberStateChanged](t, c, protocol.EventGroupMemberStateChanged)
		if ev := event[protocol.GroupApplicationUpdated](t, c, protocol.EventGroupApplicationUpdated); ev.Application.UserID != "dave" || ev.Application.State != protocol.ApplicationAccepted {
			t.Fatalf("admin's outcome %+v", ev)
		}
	}
	event[protocol.GroupMemberStateChanged](t, carol, protocol.EventGroupMemberStateChanged)
	wantCode(t, "accept twice", alice.Call(protocol.TypeGroupAcceptApplication, protocol.GroupApplicationRequest{GroupID: "g", UserID: "dave"}, nil), protocol.CodeNoJoinRequest)

	_, err = sendGroup(t, alice, "g", "m2", "after dave", nil)
	mustOK(t, "send after", err)
	if m := dave.Message(wait); m.Text != "after dave" || m.ConversationSeq != 2 {
		t.Fatalf("dave got %+v", m)
	}
	msgs, herr := history(t, dave, "g")
	mustOK(t, "history", herr)
	if len(msgs) != 1 || msgs[0].Text != "after dave" {
		t.Fatalf("dave's history %+v: wants only what came after the acceptance", msgs)
	}

	// Rejected: erin is told, is no member, may ask again.
	mustOK(t, "erin applies", erin.Call(protocol.TypeGroupJoin, protocol.GroupJoinRequest{GroupID: "g"}, nil))
	bob.Message(wait) // m2
	for _, c := range []*testkit.Client{alice, bob} {
		event[protocol.GroupApplicationListChanged](t, c, protocol.EventGroupApplicationListChanged)
	}
	var rej protocol.GroupApplication
	mustOK(t, "owner rejects", alice.Call(protocol.TypeGroupRejectApplication, protocol.GroupApplicationRequest{GroupID: "g", UserID: "erin"}, &rej))
	if rej.State != protocol.ApplicationRejected {
		t.Fatalf("reject reply %+v", rej)
	}
	if ev := event[protocol.GroupApplicationUpdated](t, erin, protocol.EventGroupApplicationUpdated); ev.Application.State != protocol.ApplicationRejected || ev.Application.GroupID != "g" || ev.OperatedBy != "alice" {
		t.Fatalf("erin's outcome %+v", ev)
	}
	event[protocol.GroupApplicationUpdated](t, alice, protocol.EventGroupApplicationUpdated)
	event[protocol.GroupApplicationUpdated](t, bob, protocol.EventGroupApplicationUpdated)
	if isMember(t, erin, "g") {
		t.Fatal("erin is a member after rejection")
	}
	wantCode(t, "accept after reject", alice.Call(protocol.TypeGroupAcceptApplication, protocol.GroupApplicationRequest{GroupID: "g", UserID: "erin"}, nil), protocol.CodeNoJoinRequest)
	list = protocol.GroupApplicationListReply{}
	mustOK(t, "list", alice.Call(protocol.TypeGroupApplicationList, protocol.GroupApplicationListRequest{GroupID: "g", Count: 1}, &list))
	if len(list.Applications) != 1 || list.Applications[0].UserID != "dave" || list.Next != "dave" {
		t.Fatalf("first page %+v", list)
	}
	var second protocol.GroupApplicationListReply
	mustOK(t, "list", alice.Call(protocol.TypeGroupApplicationList, protocol.GroupApplicationListRequest{GroupID: "g", Count: 1, Next: list.Next}, &second))
	if len(second.Applications) != 1 || second.Applications[0].UserID != "erin" || second.Applications[0].State != protocol.ApplicationRejected || second.Next != "" {
		t.Fatalf("second page %+v", second)
	}
	mustOK(t, "erin asks again", erin.Call(protocol.TypeGroupJoin, protocol.GroupJoinRequest{GroupID: "g"}, nil))
}

// TestGroupPartialSuccessWS: groupCreate and groupInvite add the members
// they can and list the others in errorUserList with each one's code.
func TestGroupPartialSuccessWS(t *testing.T) {
	s := testkit.Start(t, nil)
	alice, bob, carol := member(t, s, "alice"), member(t, s, "bob"), member(t, s, "carol")
	r := created(t, protocol.GroupCreateRequest{GroupID: "g", Name: "G", Members: []string{"bob", "zed", "a b", "bob", "alice"}}, alice, bob)
	if r.Group.MemberCount != 2 {
		t.Fatalf("member count %d, want 2", r.Group.MemberCount)
	}
	wantErrors(t, "create", r.ErrorUserList, map[string]protocol.Code{"zed": protocol.CodeUserNotFound, "a b": protocol.CodeInvalidUserID})

	var inv protocol.GroupUsersReply
	mustOK(t, "invite", alice.Call(protocol.TypeGroupInvite, protocol.GroupUsersRequest{GroupID: "g", UserIDs: []string{"carol", "ghost", "bob", "x:y"}}, &inv))
	if len(inv.UserIDs) != 1 || inv.UserIDs[0] != "carol" || inv.MemberCount != 3 {
		t.Fatalf("invite %+v", inv)
	}
	wantErrors(t, "invite", inv.ErrorUserList, map[string]protocol.Code{
		"ghost": protocol.CodeUserNotFound, "bob": protocol.CodeAlreadyGroupMember, "x:y": protocol.CodeInvalidUserID})
	event[protocol.GroupStateChanged](t, carol, protocol.EventGroupStateChanged)

	// Nobody addable: the request fails and changes nothing.
	wantCode(t, "invite unknown only", alice.Call(protocol.TypeGroupInvite, protocol.GroupUsersRequest{GroupID: "g", UserIDs: []string{"ghost", "zed"}}, nil), protocol.CodeUserNotFound)
	var ms protocol.GroupMembersReply
	mustOK(t, "members", alice.Call(protocol.TypeGroupMembers, protocol.GroupMembersRequest{GroupID: "g"}, &ms))
	if len(ms.Members) != 3 {
		t.Fatalf("members %+v", ms.Members)
	}
}

func wantErrors(t *testing.T, what string, got []protocol.GroupErrorUser, want map[string]protocol.Code) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: errorUserList %+v, want %v", what, got, want)
	}
	for _, e := range got {
		if c, ok := want[e.UserID]; !ok || c != e.Code || e.Message == "" {
			t.Fatalf("%s: errorUserList %+v, want %v", what, got, want)
		}
	}
}

// api makes a server API call with the app's admin key and decodes the
// answer into out (when not nil), returning the status and, on an error,
// the error.
func api(t *testing.T, s *testkit.Server, method, path string, body, out any) (int, *protocol.Error) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.HTTP+"/v1/apps/"+s.App.AppID+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.App.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		var e protocol.Error
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return resp.StatusCode, &e
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %s: %v", method, path, b, err)
		}
	}
	return resp.StatusCode, nil
}

// restGroup is the answer of GET /groups/{groupID}.
type restGroup struct {
	Group         protocol.Group            `json:"group"`
	Members       []protocol.GroupMember    `json:"members"`
	Next          string                    `json:"next"`
	ErrorUserList []protocol.GroupErrorUser `json:"errorUserList"`
}

// TestGroupServerAPI: the app's server creates a group for an owner and
// members that never logged in (they see it, and its messages, when they
// do), adds and removes members with partial success, changes the join
// mode, answers join requests and dismisses it; live members get the same
// events as over the WebSocket; bad input changes nothing.
func TestGroupServerAPI(t *testing.T) {
	s := testkit.Start(t, nil)
	quinn := member(t, s, "quinn")

	// Bad creates: documented codes, no group.
	for _, c := range []struct {
		name string
		body map[string]any
		code protocol.Code
	}{
		{"no owner", map[string]any{"groupID": "team", "name": "T"}, protocol.CodeInvalidUserID},
		{"bad owner", map[string]any{"groupID": "team", "name": "T", "ownerUserID": "a b"}, protocol.CodeInvalidUserID},
		{"bad mode", map[string]any{"groupID": "team", "name": "T", "ownerUserID": "olga", "joinMode": 9}, protocol.CodeInvalidArgument},
		{"bad group id", map[string]any{"groupID": "a:b", "name": "T", "ownerUserID": "olga"}, protocol.CodeInvalidArgument},
		{"unknown field", map[string]any{"groupID": "team", "name": "T", "ownerUserID": "olga", "owner": "x"}, protocol.CodeInvalidArgument},
	} {
		if st, err := api(t, s, "POST", "/groups", c.body, nil); err == nil || err.Code != c.code || st != c.code.HTTPStatus() {
			t.Fatalf("%s: %d %v, want %d", c.name, st, err, c.code)
		}
	}
	if _, err := api(t, s, "GET", "/groups/team", nil, nil); err == nil || err.Code != protocol.CodeGroupNotFound {
		t.Fatalf("group after bad creates: %v", err)
	}

	var cr restGroup
	if _, err := api(t, s, "POST", "/groups", map[string]any{"groupID": "team", "name": "Team", "ownerUserID": "olga",
		"members": []string{"pat", "quinn", "bad id", "olga"}}, &cr); err != nil {
		t.Fatal(err)
	}
	if cr.Group.GroupID != "team" || cr.Group.OwnerUserID != "olga" || cr.Group.MemberCount != 3 || cr.Group.JoinMode != protocol.JoinModeApproval {
		t.Fatalf("created %+v", cr.Group)
	}
	wantErrors(t, "REST create", cr.ErrorUserList, map[string]protocol.Code{"bad id": protocol.CodeInvalidUserID})
	if ev := event[protocol.GroupStateChanged](t, quinn, protocol.EventGroupStateChanged); ev.GroupID != "team" || ev.Event != protocol.GroupEventCreated || ev.OperatedBy != "" {
		t.Fatalf("quinn's create event %+v", ev)
	}
	var view restGroup
	if _, err := api(t, s, "GET", "/groups/team?count=2", nil, &view); err != nil {
		t.Fatal(err)
	}
	if view.Group.Name != "Team" || len(view.Members) != 2 || view.Members[0].UserID != "olga" || view.Members[0].Role != protocol.RoleOwner || view.Next != "pat" {
		t.Fatalf("view %+v", view)
	}

	// Refused requests record nobody as a user of the app.
	if _, err := api(t, s, "POST", "/groups", map[string]any{"groupID": "team", "name": "Again", "ownerUserID": "zoe", "members": []string{"zed"}}, nil); err == nil || err.Code != protocol.CodeGroupExists {
		t.Fatalf("create over an existing group: %v", err)
	}
	if _, err := api(t, s, "POST", "/groups/nope/members", map[string]any{"userIDs": []string{"zack"}}, nil); err == nil || err.Code != protocol.CodeGroupNotFound {
		t.Fatalf("add to no group: %v", err)
	}

	// The owner, who never logged in, logs in: the group is hers.
	olga := member(t, s, "olga")
	for _, u := range []string{"zoe", "zed", "zack"} {
		wantCode(t, "invite "+u+", named only by refused requests", olga.Call(protocol.TypeGroupInvite, protocol.GroupUsersRequest{GroupID: "team", UserIDs: []string{u}}, nil), protocol.CodeUserNotFound)
	}
	var gl protocol.GroupListReply
	mustOK(t, "olga's groups", olga.Call(protocol.TypeGroupList, protocol.GroupListRequest{}, &gl))
	if len(gl.Groups) != 1 || gl.Groups[0].GroupID != "team" || gl.Groups[0].MyRole != protocol.RoleOwner {
		t.Fatalf("olga's groups %+v", gl.Groups)
	}
	_, err := sendGroup(t, olga, "team", "o1", "welcome", nil)
	mustOK(t, "olga sends", err)
	quinn.Message(wait)
	// pat never logged in: the message waits for its first login.
	pat := s.LoginAs(t, "pat", "android", "dev-pat")
	if msgs, _ := pat.SyncDone(wait); len(msgs) != 1 || msgs[0].Text != "welcome" || msgs[0].ConversationID != "team" {
		t.Fatalf("pat's first sync %+v", msgs)
	}

	// Add: partial success; live new members get their event.
	rita := member(t, s, "rita")
	var add protocol.GroupUsersReply
	if _, err := api(t, s, "POST", "/groups/team/members", map[string]any{"userIDs": []string{"rita", "sam", "pat", "x y"}}, &add); err != nil {
		t.Fatal(err)
	}
	if len(add.UserIDs) != 2 || add.MemberCount != 5 {
		t.Fatalf("add %+v", add)
	}
	wantErrors(t, "REST add", add.ErrorUserList, map[string]protocol.Code{"pat": protocol.CodeAlreadyGroupMember, "x y": protocol.CodeInvalidUserID})
	if ev := event[protocol.GroupStateChanged](t, rita, protocol.EventGroupStateChanged); ev.Event != protocol.GroupEventInvited || ev.OperatedBy != "" {
		t.Fatalf("rita's event %+v", ev)
	}
	if ev := event[protocol.GroupMemberStateChanged](t, olga, protocol.EventGroupMemberStateChanged); len(ev.UserIDs) != 2 || ev.MemberCount != 5 {
		t.Fatalf("olga's member event %+v", ev)
	}

	// Remove: partial success; the owner cannot be removed.
	var rm protocol.GroupUsersReply
	if _, err := api(t, s, "POST", "/groups/team/members/remove", map[string]any{"userIDs": []string{"sam", "nobody", "olga"}}, &rm); err != nil {
		t.Fatal(err)
	}
	if len(rm.UserIDs) != 1 || rm.UserIDs[0] != "sam" || rm.MemberCount != 4 {
		t.Fatalf("remove %+v", rm)
	}
	wantErrors(t, "REST remove", rm.ErrorUserList, map[string]protocol.Code{"nobody": protocol.CodeNotGroupMember, "olga": protocol.CodeOwnerCannotLeave})
	if _, err := api(t, s, "POST", "/groups/team/members/remove", map[string]any{"userIDs": []string{"olga"}}, nil); err == nil || err.Code != protocol.CodeOwnerCannotLeave {
		t.Fatalf("remove the owner only: %v", err)
	}
	if _, err := api(t, s, "POST", "/groups/team/members", map[string]any{"userIDs": []string{}}, nil); err == nil || err.Code != protocol.CodeInvalidArgument {
		t.Fatalf("add nobody: %v", err)
	}

	// Join mode: bad input changes nothing; a change is told to members.
	for _, body := range []map[string]any{{"joinMode": 7}, {}} {
		if _, err := api(t, s, "PUT", "/groups/team/join-mode", body, nil); err == nil || err.Code != protocol.CodeInvalidArgument {
			t.Fatalf("bad join mode %v: %v", body, err)
		}
	}
	if _, err := api(t, s, "GET", "/groups/team", nil, &view); err != nil || view.Group.JoinMode != protocol.JoinModeApproval {
		t.Fatalf("join mode after bad changes: %+v %v", view.Group, err)
	}

	// A join request answered by the app's server.
	tom := member(t, s, "tom")
	mustOK(t, "tom applies", tom.Call(protocol.TypeGroupJoin, protocol.GroupJoinRequest{GroupID: "team", Message: "hi"}, nil))
	var apps protocol.GroupApplicationListReply
	if _, err := api(t, s, "GET", "/groups/team/applications", nil, &apps); err != nil || len(apps.Applications) != 1 || apps.Applications[0].UserID != "tom" {
		t.Fatalf("applications %+v %v", apps, err)
	}
	var acc protocol.GroupApplication
	if _, err := api(t, s, "POST", "/groups/team/applications/tom/accept", nil, &acc); err != nil || acc.State != protocol.ApplicationAccepted {
		t.Fatalf("accept %+v %v", acc, err)
	}
	if ev := event[protocol.GroupStateChanged](t, tom, protocol.EventGroupStateChanged); ev.State != protocol.GroupStateEnter || ev.GroupID != "team" {
		t.Fatalf("tom's event %+v", ev)
	}
	if _, err := api(t, s, "POST", "/groups/team/applications/tom/reject", nil, nil); err == nil || err.Code != protocol.CodeNoJoinRequest {
		t.Fatalf("reject after accept: %v", err)
	}

	if st, err := api(t, s, "PUT", "/groups/team/join-mode", map[string]any{"joinMode": protocol.JoinModeInviteOnly}, nil); err != nil || st != http.StatusNoContent {
		t.Fatalf("set join mode: %d %v", st, err)
	}
	if ev := until[protocol.GroupJoinModeUpdated](t, rita, protocol.EventGroupJoinModeUpdated); ev.JoinMode != protocol.JoinModeInviteOnly || ev.OperatedBy != "" {
		t.Fatalf("rita's join mode event %+v", ev)
	}

	// Owner transfer.
	if _, err := api(t, s, "PUT", "/groups/team/owner", map[string]any{"toUserID": "nobody"}, nil); err == nil || err.Code != protocol.CodeNotGroupMember {
		t.Fatalf("transfer to a non-member: %v", err)
	}
	if _, err := api(t, s, "PUT", "/groups/team/owner", map[string]any{"toUserID": "rita"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := api(t, s, "GET", "/groups/team", nil, &view); err != nil || view.Group.OwnerUserID != "rita" {
		t.Fatalf("after transfer %+v %v", view.Group, err)
	}

	// Another app's key sees nothing of this one.
	other := s.CreateApp(t, "other")
	req, _ := http.NewRequest("GET", s.HTTP+"/v1/apps/"+s.App.AppID+"/groups/team", nil)
	req.Header.Set("Authorization", "Bearer "+other.AdminKey)
	resp, herr := http.DefaultClient.Do(req)
	if herr != nil {
		t.Fatal(herr)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("another app's key: %d", resp.StatusCode)
	}

	if st, err := api(t, s, "DELETE", "/groups/team", nil, nil); err != nil || st != http.StatusNoContent {
		t.Fatalf("dismiss: %d %v", st, err)
	}
	if _, err := api(t, s, "GET", "/groups/team", nil, nil); err == nil || err.Code != protocol.CodeGroupDismissed {
		t.Fatalf("after dismiss: %v", err)
	}
}
