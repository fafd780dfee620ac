package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/config"
	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/testkit"
)

// member logs user in and waits for the login sync.
func member(t *testing.T, s *testkit.Server, user string) *testkit.Client {
	t.Helper()
	c := s.LoginAs(t, user, "android", "dev-"+user)
	c.SyncDone(wait)
	return c
}

// event waits for the next event, which must be of type typ, and decodes it.
func event[T any](t *testing.T, c *testkit.Client, typ string) T {
	t.Helper()
	f := c.Next(wait)
	if f.Type != typ {
		t.Fatalf("want a %s event, got %s %s", typ, f.Type, f.Data)
	}
	var v T
	if err := json.Unmarshal(f.Data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func sendGroup(t *testing.T, c *testkit.Client, group, localID, text string, pc *protocol.PushConfig) (protocol.SendReply, *protocol.Error) {
	t.Helper()
	var r protocol.SendReply
	err := c.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: group, ConversationType: protocol.ConversationGroup,
		LocalMessageID: localID, Type: protocol.MessageText, Text: text, PushConfig: pc}, &r)
	return r, err
}

func wantCode(t *testing.T, what string, err *protocol.Error, code protocol.Code) {
	t.Helper()
	if err == nil || err.Code != code {
		t.Fatalf("%s: want error %d %s, got %v", what, code, code.Name(), err)
	}
}

func mustOK(t *testing.T, what string, err *protocol.Error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func history(t *testing.T, c *testkit.Client, group string) ([]protocol.Message, *protocol.Error) {
	t.Helper()
	var r protocol.HistoryReply
	err := c.Call(protocol.TypeHistory, protocol.HistoryRequest{ConversationID: group, ConversationType: protocol.ConversationGroup}, &r)
	return r.Messages, err
}

// TestGroupLifecycle walks a group through every change and checks who
// gets what: events on every change, messages only to members, nothing
// from before one joined, nothing after one left, roles' permissions.
func TestGroupLifecycle(t *testing.T) {
	s := testkit.Start(t, nil)
	alice, bob, carol, dave := member(t, s, "alice"), member(t, s, "bob"), member(t, s, "carol"), member(t, s, "dave")

	// Bad creates change nothing.
	wantCode(t, "bad join mode", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "g1", Name: "x", Members: []string{"bob"}, JoinMode: joinMode(3)}, nil), protocol.CodeInvalidArgument)
	wantCode(t, "bad id", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "g:1", Name: "x"}, nil), protocol.CodeInvalidArgument)
	wantCode(t, "info after failed create", alice.Call(protocol.TypeGroupInfo, protocol.GroupRequest{GroupID: "g1"}, nil), protocol.CodeGroupNotFound)

	var created protocol.GroupReply
	mustOK(t, "create", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "g1", Name: "Team", Members: []string{"bob", "carol", "bob"}, JoinMode: joinMode(protocol.JoinModeAny)}, &created))
	if g := created.Group; g.GroupID != "g1" || g.MemberCount != 3 || g.OwnerUserID != "alice" || g.MyRole != protocol.RoleOwner {
		t.Fatalf("created %+v", g)
	}
	for _, c := range []*testkit.Client{alice, bob, carol} {
		ev := event[protocol.GroupStateChanged](t, c, protocol.EventGroupStateChanged)
		if ev.GroupID != "g1" || ev.State != protocol.GroupStateEnter || ev.Event != protocol.GroupEventCreated || ev.Group.Name != "Team" {
			t.Fatalf("create event %+v", ev)
		}
	}
	wantCode(t, "same id", bob.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "g1", Name: "y"}, nil), protocol.CodeGroupExists)

	// A message reaches the members, not the sender's own session, not
	// dave.
	r1, err := sendGroup(t, alice, "g1", "m1", "hello team", nil)
	mustOK(t, "send", err)
	if r1.ConversationSeq != 1 {
		t.Fatalf("seq %d", r1.ConversationSeq)
	}
	for _, c := range []*testkit.Client{bob, carol} {
		m := c.Message(wait)
		if m.ConversationID != "g1" || m.ConversationType != protocol.ConversationGroup || m.SenderUserID != "alice" || m.Text != "hello team" || m.ConversationSeq != 1 {
			t.Fatalf("group message %+v", m)
		}
	}
	alice.NoEvent(50 * time.Millisecond)
	dave.NoEvent(50 * time.Millisecond)

	// Non-members can neither send nor read.
	_, err = sendGroup(t, dave, "g1", "d1", "let me in", nil)
	wantCode(t, "non-member send", err, protocol.CodeNotGroupMember)
	_, err = history(t, dave, "g1")
	wantCode(t, "non-member history", err, protocol.CodeNotGroupMember)
	wantCode(t, "non-member members", dave.Call(protocol.TypeGroupMembers, protocol.GroupMembersRequest{GroupID: "g1"}, nil), protocol.CodeNotGroupMember)
	wantCode(t, "non-member info", dave.Call(protocol.TypeGroupInfo, protocol.GroupRequest{GroupID: "g1"}, nil), protocol.CodeNotGroupMember)
	_, err = sendGroup(t, dave, "nogroup", "d2", "x", nil)
	wantCode(t, "unknown group", err, protocol.CodeGroupNotFound)

	// Dave joins: everyone hears it; he sees nothing sent before.
	mustOK(t, "join", dave.Call(protocol.TypeGroupJoin, protocol.GroupRequest{GroupID: "g1"}, nil))
	if ev := event[protocol.GroupStateChanged](t, dave, protocol.EventGroupStateChanged); ev.Event != protocol.GroupEventJoined {
		t.Fatalf("join event %+v", ev)
	}
	for _, c := range []*testkit.Client{alice, bob, carol, dave} {
		ev := event[protocol.GroupMemberStateChanged](t, c, protocol.EventGroupMemberStateChanged)
		if ev.State != protocol.GroupStateEnter || ev.Event != protocol.GroupEventJoined || len(ev.UserIDs) != 1 || ev.UserIDs[0] != "dave" || ev.MemberCount != 4 {
			t.Fatalf("member event %+v", ev)
		}
	}
	wantCode(t, "join twice", dave.Call(protocol.TypeGroupJoin, protocol.GroupRequest{GroupID: "g1"}, nil), protocol.CodeAlreadyGroupMember)
	if ms, err := history(t, dave, "g1"); err != nil || len(ms) != 0 {
		t.Fatalf("dave's history before any message of his time: %v %+v", err, ms)
	}
	_, err = sendGroup(t, bob, "g1", "b1", "welcome dave", nil)
	mustOK(t, "send 2", err)
	for _, c := range []*testkit.Client{alice, carol, dave} {
		if m := c.Message(wait); m.ConversationSeq != 2 || m.SenderUserID != "bob" {
			t.Fatalf("second message %+v", m)
		}
	}
	if ms, _ := history(t, dave, "g1"); len(ms) != 1 || ms[0].ConversationSeq != 2 {
		t.Fatalf("dave's history %+v", ms)
	}
	if ms, _ := history(t, carol, "g1"); len(ms) != 2 {
		t.Fatalf("carol's history %+v", ms)
	}

	// Carol leaves: she gets nothing more and may not read.
	mustOK(t, "leave", carol.Call(protocol.TypeGroupLeave, protocol.GroupRequest{GroupID: "g1"}, nil))
	if ev := event[protocol.GroupStateChanged](t, carol, protocol.EventGroupStateChanged); ev.State != protocol.GroupStateQuit || ev.Event != protocol.GroupEventLeft {
		t.Fatalf("leave event %+v", ev)
	}
	event[protocol.GroupMemberStateChanged](t, carol, protocol.EventGroupMemberStateChanged)
	for _, c := range []*testkit.Client{alice, bob, dave} {
		if ev := event[protocol.GroupMemberStateChanged](t, c, protocol.EventGroupMemberStateChanged); ev.Event != protocol.GroupEventLeft || ev.MemberCount != 3 {
			t.Fatalf("leave member event %+v", ev)
		}
	}
	_, err = sendGroup(t, alice, "g1", "m3", "after carol", nil)
	mustOK(t, "send 3", err)
	bob.Message(wait)
	dave.Message(wait)
	carol.NoEvent(100 * time.Millisecond)
	_, err = history(t, carol, "g1")
	wantCode(t, "history after leaving", err, protocol.CodeNotGroupMember)

	// Roles: a member may not kick; an admin kicks members, not the owner.
	wantCode(t, "member kicks", bob.Call(protocol.TypeGroupKick, protocol.GroupUsersRequest{GroupID: "g1", UserIDs: []string{"dave"}}, nil), protocol.CodePermissionDenied)
	wantCode(t, "member sets role", bob.Call(protocol.TypeGroupSetRole, protocol.GroupSetRoleRequest{GroupID: "g1", UserID: "dave", Role: protocol.RoleAdmin}, nil), protocol.CodePermissionDenied)
	mustOK(t, "set admin", alice.Call(protocol.TypeGroupSetRole, protocol.GroupSetRoleRequest{GroupID: "g1", UserID: "bob", Role: protocol.RoleAdmin}, nil))
	for _, c := range []*testkit.Client{alice, bob, dave} {
		ev := event[protocol.GroupMemberInfoUpdated](t, c, protocol.EventGroupMemberInfoUpdated)
		if len(ev.Members) != 1 || ev.Members[0].UserID != "bob" || ev.Members[0].Role != protocol.RoleAdmin {
			t.Fatalf("role event %+v", ev)
		}
	}
	wantCode(t, "admin kicks owner", bob.Call(protocol.TypeGroupKick, protocol.GroupUsersRequest{GroupID: "g1", UserIDs: []string{"alice"}}, nil), protocol.CodePermissionDenied)
	wantCode(t, "kick self", bob.Call(protocol.TypeGroupKick, protocol.GroupUsersRequest{GroupID: "g1", UserIDs: []string{"bob"}}, nil), protocol.CodeInvalidArgument)
	wantCode(t, "kick non-member", bob.Call(protocol.TypeGroupKick, protocol.GroupUsersRequest{GroupID: "g1", UserIDs: []string{"carol"}}, nil), protocol.CodeNotGroupMember)
	var kicked protocol.GroupUsersReply
	mustOK(t, "admin kicks member", bob.Call(protocol.TypeGroupKick, protocol.GroupUsersRequest{GroupID: "g1", UserIDs: []string{"dave"}}, &kicked))
	if len(kicked.UserIDs) != 1 || kicked.MemberCount != 2 {
		t.Fatalf("kick reply %+v", kicked)
	}
	if ev := event[protocol.GroupStateChanged](t, dave, protocol.EventGroupStateChanged); ev.Event != protocol.GroupEventKickedOut || ev.OperatedBy != "bob" {
		t.Fatalf("kicked event %+v", ev)
	}
	event[protocol.GroupMemberStateChanged](t, dave, protocol.EventGroupMemberStateChanged)
	event[protocol.GroupMemberStateChanged](t, alice, protocol.EventGroupMemberStateChanged)
	event[protocol.GroupMemberStateChanged](t, bob, protocol.EventGroupMemberStateChanged)

	// The owner cannot leave; after a transfer the new owner dismisses.
	wantCode(t, "owner leaves", alice.Call(protocol.TypeGroupLeave, protocol.GroupRequest{GroupID: "g1"}, nil), protocol.CodeOwnerCannotLeave)
	wantCode(t, "transfer to non-member", alice.Call(protocol.TypeGroupTransfer, protocol.GroupTransferRequest{GroupID: "g1", ToUserID: "carol"}, nil), protocol.CodeNotGroupMember)
	mustOK(t, "transfer", alice.Call(protocol.TypeGroupTransfer, protocol.GroupTransferRequest{GroupID: "g1", ToUserID: "bob"}, nil))
	event[protocol.GroupMemberInfoUpdated](t, alice, protocol.EventGroupMemberInfoUpdated)
	event[protocol.GroupMemberInfoUpdated](t, bob, protocol.EventGroupMemberInfoUpdated)
	var info protocol.GroupReply
	mustOK(t, "info", alice.Call(protocol.TypeGroupInfo, protocol.GroupRequest{GroupID: "g1"}, &info))
	if info.Group.OwnerUserID != "bob" || info.Group.MyRole != protocol.RoleMember || info.Group.MemberCount != 2 {
		t.Fatalf("info after transfer %+v", info.Group)
	}
	wantCode(t, "former owner dismisses", alice.Call(protocol.TypeGroupDismiss, protocol.GroupRequest{GroupID: "g1"}, nil), protocol.CodePermissionDenied)
	mustOK(t, "dismiss", bob.Call(protocol.TypeGroupDismiss, protocol.GroupRequest{GroupID: "g1"}, nil))
	for _, c := range []*testkit.Client{alice, bob} {
		if ev := event[protocol.GroupStateChanged](t, c, protocol.EventGroupStateChanged); ev.Event != protocol.GroupEventDismissed {
			t.Fatalf("dismiss event %+v", ev)
		}
	}
	_, err = sendGroup(t, alice, "g1", "m9", "anyone?", nil)
	wantCode(t, "send to dismissed", err, protocol.CodeGroupDismissed)
	wantCode(t, "join dismissed", carol.Call(protocol.TypeGroupJoin, protocol.GroupRequest{GroupID: "g1"}, nil), protocol.CodeGroupDismissed)
	_, err = history(t, bob, "g1")
	wantCode(t, "history of dismissed", err, protocol.CodeGroupDismissed)
	wantCode(t, "create over dismissed", carol.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "g1", Name: "again"}, nil), protocol.CodeGroupExists)
	var list protocol.GroupListReply
	mustOK(t, "list", alice.Call(protocol.TypeGroupList, protocol.GroupListRequest{}, &list))
	if len(list.Groups) != 0 {
		t.Fatalf("groups after dismissal %+v", list.Groups)
	}
}

// TestGroupSyncUnreadAndPaging: a member offline while messages come gets
// them at login from its last acknowledged position, in order, once; its
// conversation list counts them unread; members and groups page.
func TestGroupSyncUnreadAndPaging(t *testing.T) {
	s := testkit.Start(t, nil)
	users := []string{"alice"}
	for i := range 24 {
		u := fmt.Sprintf("u%02d", i)
		users = append(users, u)
		member(t, s, u).Close()
	}
	alice, bob := member(t, s, "alice"), member(t, s, "bob")
	mustOK(t, "create", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "big", Name: "Big", Members: append(users[1:], "bob")}, nil))
	event[protocol.GroupStateChanged](t, alice, protocol.EventGroupStateChanged)
	event[protocol.GroupStateChanged](t, bob, protocol.EventGroupStateChanged)

	_, err := sendGroup(t, alice, "big", "m1", "one", nil)
	mustOK(t, "send", err)
	if m := bob.Message(wait); m.ConversationSeq != 1 {
		t.Fatalf("first %+v", m)
	}
	bob.Send(protocol.TypeAck, "", protocol.AckRequest{Acks: []protocol.AckPosition{{ConversationID: "big", ConversationType: protocol.ConversationGroup, Seq: 1}}})
	time.Sleep(300 * time.Millisecond) // acks are written every 100 ms
	bob.Close()
	for s.Online("bob") {
		time.Sleep(5 * time.Millisecond)
	}
	for i := 2; i <= 6; i++ {
		_, err := sendGroup(t, alice, "big", fmt.Sprintf("m%d", i), fmt.Sprintf("msg %d", i), nil)
		mustOK(t, "send", err)
	}
	bob = s.LoginAs(t, "bob", "android", "dev-bob")
	msgs, n := bob.SyncDone(wait)
	if n != 5 || len(msgs) != 5 {
		t.Fatalf("synced %d (%d messages), want 5", n, len(msgs))
	}
	for i, m := range msgs {
		if m.ConversationSeq != int64(i+2) || !m.Offline || m.ConversationID != "big" {
			t.Fatalf("synced message %d: %+v", i, m)
		}
	}

	var convs protocol.ConversationListReply
	mustOK(t, "conversations", bob.Call(protocol.TypeConversationList, protocol.ConversationListRequest{}, &convs))
	if len(convs.Conversations) != 1 || convs.Conversations[0].ConversationID != "big" || convs.Conversations[0].UnreadMessageCount != 6 ||
		convs.Conversations[0].LastMessage == nil || convs.Conversations[0].LastMessage.Text != "msg 6" {
		t.Fatalf("bob's conversations %+v", convs.Conversations)
	}
	var mr protocol.MarkReadReply
	mustOK(t, "mark read", bob.Call(protocol.TypeMarkRead, protocol.MarkReadRequest{ConversationID: "big", ConversationType: protocol.ConversationGroup, Seq: 4}, &mr))
	if mr.UnreadMessageCount != 2 {
		t.Fatalf("unread after marking 4 read: %d", mr.UnreadMessageCount)
	}
	// Alice's own messages are not unread for her.
	mustOK(t, "conversations", alice.Call(protocol.TypeConversationList, protocol.ConversationListRequest{}, &convs))
	if len(convs.Conversations) != 1 || convs.Conversations[0].UnreadMessageCount != 0 {
		t.Fatalf("alice's conversations %+v", convs.Conversations)
	}

	// Members page in user ID order.
	var all []protocol.GroupMember
	next := ""
	for {
		var page protocol.GroupMembersReply
		mustOK(t, "members", bob.Call(protocol.TypeGroupMembers, protocol.GroupMembersRequest{GroupID: "big", Count: 10, Next: next}, &page))
		all = append(all, page.Members...)
		if page.Next == "" {
			break
		}
		next = page.Next
	}
	if len(all) != 26 || all[0].UserID != "alice" || all[0].Role != protocol.RoleOwner || all[1].UserID != "bob" {
		t.Fatalf("members: %d %+v", len(all), all[:2])
	}
	var list protocol.GroupListReply
	mustOK(t, "list", bob.Call(protocol.TypeGroupList, protocol.GroupListRequest{}, &list))
	if len(list.Groups) != 1 || list.Groups[0].MemberCount != 26 || list.Groups[0].MyRole != protocol.RoleMember {
		t.Fatalf("bob's groups %+v", list.Groups)
	}
}

// TestGroupRejoinSeesOnlyNewMessages: a member that leaves and joins again
// on the same session gets neither the messages sent while it was out,
// live or by gap filling, nor at its next login.
func TestGroupRejoinSeesOnlyNewMessages(t *testing.T) {
	s := testkit.Start(t, nil)
	alice, bob := member(t, s, "alice"), member(t, s, "bob")
	mustOK(t, "create", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "g", Name: "G", Members: []string{"bob"}, JoinMode: joinMode(protocol.JoinModeAny)}, nil))
	event[protocol.GroupStateChanged](t, alice, protocol.EventGroupStateChanged)
	event[protocol.GroupStateChanged](t, bob, protocol.EventGroupStateChanged)
	_, err := sendGroup(t, alice, "g", "1", "before", nil)
	mustOK(t, "send", err)
	bob.Message(wait)
	mustOK(t, "leave", bob.Call(protocol.TypeGroupLeave, protocol.GroupRequest{GroupID: "g"}, nil))
	event[protocol.GroupStateChanged](t, bob, protocol.EventGroupStateChanged)
	event[protocol.GroupMemberStateChanged](t, bob, protocol.EventGroupMemberStateChanged)
	event[protocol.GroupMemberStateChanged](t, alice, protocol.EventGroupMemberStateChanged)
	for i := range 3 {
		_, err := sendGroup(t, alice, "g", fmt.Sprint("out", i), "while bob is out", nil)
		mustOK(t, "send", err)
	}
	mustOK(t, "rejoin", bob.Call(protocol.TypeGroupJoin, protocol.GroupRequest{GroupID: "g"}, nil))
	event[protocol.GroupStateChanged](t, bob, protocol.EventGroupStateChanged)
	event[protocol.GroupMemberStateChanged](t, bob, protocol.EventGroupMemberStateChanged)
	event[protocol.GroupMemberStateChanged](t, alice, protocol.EventGroupMemberStateChanged)
	_, err = sendGroup(t, alice, "g", "after", "welcome back", nil)
	mustOK(t, "send", err)
	if m := bob.Message(wait); m.Text != "welcome back" || m.ConversationSeq != 5 {
		t.Fatalf("after rejoin bob got %+v", m)
	}
	bob.NoEvent(100 * time.Millisecond)
	bob.Close()
	bob = s.LoginAs(t, "bob", "ios", "second-device")
	msgs, _ := bob.SyncDone(wait)
	if len(msgs) != 1 || msgs[0].ConversationSeq != 5 {
		t.Fatalf("a new device of bob synced %+v", msgs)
	}
}

// TestGroupOfflinePush is the seed's scenario 2: members offline when a
// group message with a push config is sent get one push per device; the
// sender and online members get none; members get the message at login.
func TestGroupOfflinePush(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	toks := map[string]string{}
	for _, u := range []string{"bob", "carol"} {
		toks[u] = em.RegisterDevice(bundle, apnsemu.Development, false)
		goOffline(t, s, u, protocol.PushRegistration{Vendor: "apns", Token: toks[u], Environment: "development", BundleID: bundle})
	}
	// Alice's phone is offline too; she sends from her desktop.
	aliceTok := em.RegisterDevice(bundle, apnsemu.Development, false)
	goOffline(t, s, "alice", protocol.PushRegistration{Vendor: "apns", Token: aliceTok, Environment: "development", BundleID: bundle})
	alice := s.LoginAs(t, "alice", "macos", "desktop-alice")
	alice.SyncDone(wait)
	dave := member(t, s, "dave")
	mustOK(t, "create", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "team", Name: "Team", Members: []string{"bob", "carol", "dave"}}, nil))
	event[protocol.GroupStateChanged](t, dave, protocol.EventGroupStateChanged)

	_, err := sendGroup(t, alice, "team", "p1", "standup in 5", &protocol.PushConfig{Title: "Team", Content: "alice: standup in 5", Payload: "group=team"})
	mustOK(t, "send", err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for _, u := range []string{"bob", "carol"} {
		ds, err := em.WaitDeliveries(ctx, toks[u], 1)
		if err != nil {
			t.Fatalf("no push for %s: %v (jobs %+v)", u, err, jobsFor(t, s, u))
		}
		alert, _ := ds[0].Aps()["alert"].(map[string]any)
		if alert["title"] != "Team" || alert["body"] != "alice: standup in 5" || ds[0].Payload["payload"] != "group=team" {
			t.Fatalf("push to %s: %+v", u, ds[0])
		}
	}
	waitJob(t, s, "bob", push.JobDelivered)
	if jobs := jobsFor(t, s, "dave"); len(jobs) != 0 {
		t.Fatalf("online dave got push jobs %+v", jobs)
	}
	if jobs := jobsFor(t, s, "alice"); len(jobs) != 0 {
		t.Fatalf("the sender got push jobs %+v", jobs)
	}
	if m := dave.Message(wait); m.ConversationID != "team" {
		t.Fatalf("dave %+v", m)
	}
	bob := s.LoginAs(t, "bob", "ios", "phone-bob")
	if msgs, _ := bob.SyncDone(wait); len(msgs) != 1 || msgs[0].Text != "standup in 5" || msgs[0].ConversationID != "team" {
		t.Fatalf("bob synced %+v", msgs)
	}
}

// TestGroupSurvivesRestart: groups, members, roles and positions are
// stored; after a restart the group works as before.
func TestGroupSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s1 := testkit.Start(t, func(c *config.Config) { c.DataDir = dir })
	alice, bob := member(t, s1, "alice"), member(t, s1, "bob")
	mustOK(t, "create", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "g", Name: "G", Members: []string{"bob"}}, nil))
	_, err := sendGroup(t, alice, "g", "1", "one", nil)
	mustOK(t, "send", err)
	alice.Close()
	bob.Close()
	s1.Stop(t)

	s2 := testkit.Start(t, func(c *config.Config) { c.DataDir = dir })
	alice, bob = member(t, s2, "alice"), s2.LoginAs(t, "bob", "android", "dev-bob")
	if msgs, _ := bob.SyncDone(wait); len(msgs) != 1 || msgs[0].Text != "one" {
		t.Fatalf("bob synced %+v", msgs)
	}
	r, err := sendGroup(t, alice, "g", "2", "two", nil)
	mustOK(t, "send after restart", err)
	if r.ConversationSeq != 2 {
		t.Fatalf("seq after restart %d", r.ConversationSeq)
	}
	if m := bob.Message(wait); m.Text != "two" {
		t.Fatalf("bob got %+v", m)
	}
	wantCode(t, "owner leaves after restart", alice.Call(protocol.TypeGroupLeave, protocol.GroupRequest{GroupID: "g"}, nil), protocol.CodeOwnerCannotLeave)
}

// TestGroupBadInput: every malformed or forbidden group request gets its
// documented code, leaves the group as it was and the session open.
func TestGroupBadInput(t *testing.T) {
	s := testkit.Start(t, func(c *config.Config) { c.MaxGroupMembers = 4 })
	alice, bob := member(t, s, "alice"), member(t, s, "bob")
	member(t, s, "carol").Close()
	member(t, s, "dave").Close()
	member(t, s, "erin").Close()
	mustOK(t, "create", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "g", Name: "G", Members: []string{"bob"}}, nil))
	event[protocol.GroupStateChanged](t, alice, protocol.EventGroupStateChanged)
	event[protocol.GroupStateChanged](t, bob, protocol.EventGroupStateChanged)
	long := string(make([]byte, protocol.MaxGroupNameBytes+1))
	many := make([]string, protocol.MaxUsersPerGroupRequest+1)
	for i := range many {
		many[i] = fmt.Sprintf("u%d", i)
	}
	cases := []struct {
		name string
		c    *testkit.Client
		typ  string
		data any
		want protocol.Code
	}{
		{"create: name too long", alice, protocol.TypeGroupCreate, protocol.GroupCreateRequest{Name: long}, protocol.CodeInvalidArgument},
		{"create: too many members", alice, protocol.TypeGroupCreate, protocol.GroupCreateRequest{Name: "x", Members: many}, protocol.CodeInvalidArgument},
		{"create: over the member limit", alice, protocol.TypeGroupCreate, protocol.GroupCreateRequest{Name: "x", Members: []string{"bob", "carol", "dave", "erin"}}, protocol.CodeGroupFull},
		{"create: bad shape", alice, protocol.TypeGroupCreate, map[string]any{"members": "bob"}, protocol.CodeBadFrame},
		{"invite: nobody", alice, protocol.TypeGroupInvite, protocol.GroupUsersRequest{GroupID: "g"}, protocol.CodeInvalidArgument},
		{"invite: unknown user", alice, protocol.TypeGroupInvite, protocol.GroupUsersRequest{GroupID: "g", UserIDs: []string{"zed"}}, protocol.CodeUserNotFound},
		{"invite: invalid IDs only", alice, protocol.TypeGroupInvite, protocol.GroupUsersRequest{GroupID: "g", UserIDs: []string{"a b", "c:d"}}, protocol.CodeInvalidUserID},
		{"invite: members only", alice, protocol.TypeGroupInvite, protocol.GroupUsersRequest{GroupID: "g", UserIDs: []string{"bob"}}, protocol.CodeAlreadyGroupMember},
		{"invite: over the limit", alice, protocol.TypeGroupInvite, protocol.GroupUsersRequest{GroupID: "g", UserIDs: []string{"carol", "dave", "erin"}}, protocol.CodeGroupFull},
		{"invite: bad group id", alice, protocol.TypeGroupInvite, protocol.GroupUsersRequest{GroupID: "", UserIDs: []string{"carol"}}, protocol.CodeInvalidArgument},
		{"join: bad group id", alice, protocol.TypeGroupJoin, protocol.GroupRequest{GroupID: "a:b"}, protocol.CodeInvalidArgument},
		{"join: no such group", alice, protocol.TypeGroupJoin, protocol.GroupRequest{GroupID: "nope"}, protocol.CodeGroupNotFound},
		{"set role: owner's role", alice, protocol.TypeGroupSetRole, protocol.GroupSetRoleRequest{GroupID: "g", UserID: "bob", Role: protocol.RoleOwner}, protocol.CodeInvalidArgument},
		{"set role: own", alice, protocol.TypeGroupSetRole, protocol.GroupSetRoleRequest{GroupID: "g", UserID: "alice", Role: protocol.RoleAdmin}, protocol.CodeInvalidArgument},
		{"set role: non-member", alice, protocol.TypeGroupSetRole, protocol.GroupSetRoleRequest{GroupID: "g", UserID: "carol", Role: protocol.RoleAdmin}, protocol.CodeNotGroupMember},
		{"transfer: to self", alice, protocol.TypeGroupTransfer, protocol.GroupTransferRequest{GroupID: "g", ToUserID: "alice"}, protocol.CodeInvalidArgument},
		{"transfer: by a member", bob, protocol.TypeGroupTransfer, protocol.GroupTransferRequest{GroupID: "g", ToUserID: "alice"}, protocol.CodePermissionDenied},
		{"transfer: bad user", alice, protocol.TypeGroupTransfer, protocol.GroupTransferRequest{GroupID: "g", ToUserID: "a b"}, protocol.CodeInvalidUserID},
		{"dismiss: by a member", bob, protocol.TypeGroupDismiss, protocol.GroupRequest{GroupID: "g"}, protocol.CodePermissionDenied},
		{"members: negative count", bob, protocol.TypeGroupMembers, protocol.GroupMembersRequest{GroupID: "g", Count: -1}, protocol.CodeInvalidArgument},
		{"mark read: not a member", s.LoginAs(t, "carol", "web", "w"), protocol.TypeMarkRead, protocol.MarkReadRequest{ConversationID: "g", ConversationType: protocol.ConversationGroup}, protocol.CodeNotGroupMember},
		{"sync: group not mine", s.LoginAs(t, "dave", "web", "w"), protocol.TypeSync, protocol.SyncRequest{Positions: []protocol.AckPosition{{ConversationID: "g", ConversationType: protocol.ConversationGroup}}}, protocol.CodeNotGroupMember},
		{"ack: bad group id", bob, protocol.TypeAck, protocol.AckRequest{Acks: []protocol.AckPosition{{ConversationID: "a:b", ConversationType: protocol.ConversationGroup, Seq: 1}}}, protocol.CodeInvalidArgument},
		{"send: bad group id", bob, protocol.TypeSend, protocol.SendRequest{ConversationID: "a:b", ConversationType: protocol.ConversationGroup, LocalMessageID: "x", Type: 1, Text: "x"}, protocol.CodeInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, tc.name, tc.c.Call(tc.typ, tc.data, nil), tc.want)
		})
	}
	// Nothing changed, and every session still works.
	var info protocol.GroupReply
	mustOK(t, "info", bob.Call(protocol.TypeGroupInfo, protocol.GroupRequest{GroupID: "g"}, &info))
	if g := info.Group; g.MemberCount != 2 || g.OwnerUserID != "alice" || g.MyRole != protocol.RoleMember {
		t.Fatalf("group after bad requests %+v", g)
	}
	var list protocol.GroupListReply
	mustOK(t, "list", alice.Call(protocol.TypeGroupList, protocol.GroupListRequest{}, &list))
	if len(list.Groups) != 1 {
		t.Fatalf("a failed create left a group: %+v", list.Groups)
	}
	alice.NoEvent(50 * time.Millisecond)
	bob.NoEvent(50 * time.Millisecond)
}

// TestGroupCommandsAreLive: a command to a group reaches the online
// members at once and is never stored or synced.
func TestGroupCommandsAreLive(t *testing.T) {
	s := testkit.Start(t, nil)
	alice, bob := member(t, s, "alice"), member(t, s, "bob")
	member(t, s, "carol").Close()
	mustOK(t, "create", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "g", Name: "G", Members: []string{"bob", "carol"}}, nil))
	event[protocol.GroupStateChanged](t, alice, protocol.EventGroupStateChanged)
	event[protocol.GroupStateChanged](t, bob, protocol.EventGroupStateChanged)
	mustOK(t, "command", alice.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: "g", ConversationType: protocol.ConversationGroup,
		Type: protocol.MessageCommand, Data: []byte("typing")}, nil))
	if m := bob.Message(wait); m.Type != protocol.MessageCommand || string(m.Data) != "typing" || m.ConversationID != "g" {
		t.Fatalf("bob got %+v", m)
	}
	carol := s.LoginAs(t, "carol", "android", "c")
	if msgs, n := carol.SyncDone(wait); n != 0 {
		t.Fatalf("carol synced a command: %+v", msgs)
	}
	if ms, _ := history(t, bob, "g"); len(ms) != 0 {
		t.Fatalf("a command was stored: %+v", ms)
	}
}

// TestGroupPushPlanningResumesAfterRestart: a group message whose push
// planning was interrupted (the server stopped after covering members up to
// bob) is planned from where it stopped at the next start: carol gets her
// push, bob, already covered, gets none twice.
func TestGroupPushPlanningResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	s1 := testkit.Start(t, func(c *config.Config) { c.DataDir = dir })
	app := s1.App.AppID
	em, key := startAPNsWith(t, s1, apnsemu.Config{})
	toks := map[string]string{}
	for _, u := range []string{"bob", "carol"} {
		toks[u] = em.RegisterDevice(bundle, apnsemu.Development, false)
		goOffline(t, s1, u, protocol.PushRegistration{Vendor: "apns", Token: toks[u], Environment: "development", BundleID: bundle})
	}
	alice := member(t, s1, "alice")
	mustOK(t, "create", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "g", Name: "G", Members: []string{"bob", "carol"}}, nil))
	alice.Close()
	s1.Stop(t)

	// The message and its planning record, as the commit left them, with
	// the first page (up to bob) planned before the stop.
	ctx := context.Background()
	st := testkit.OpenStore(t, dir, nil)
	now := time.Now()
	m := &im.Message{AppID: app, ID: now.UnixNano() >> 10, ConvID: im.GroupConvID("g"), ConvType: protocol.ConversationGroup,
		Sender: "alice", Recipient: "g", Type: protocol.MessageText, Text: "resumed", Priority: 2, LocalID: "r1",
		CreatedAt: now, PushConfig: &push.Content{Title: "G", Content: "resumed"}, GroupPush: true, PushExpires: now.Add(time.Hour)}
	if _, err := st.AppendMessages(ctx, []*im.Message{m}); err != nil {
		t.Fatal(err)
	}
	fs, err := st.GroupFanouts(ctx, 10)
	if err != nil || len(fs) != 1 {
		t.Fatalf("fanouts %+v %v", fs, err)
	}
	if err := st.PlanGroupPush(ctx, fs[0], nil, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := testkit.StartBefore(t, func(c *config.Config) { c.DataDir = dir }, func(s *testkit.Server) { installAPNs(t, s, em, key) })
	cctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if _, err := em.WaitDeliveries(cctx, toks["carol"], 1); err != nil {
		t.Fatalf("carol's push was not planned after the restart: %v (jobs %+v)", err, jobsFor(t, s2, "carol"))
	}
	waitJob(t, s2, "carol", push.JobDelivered)
	if jobs := jobsFor(t, s2, "bob"); len(jobs) != 0 {
		t.Fatalf("bob, covered before the stop, was planned again: %+v", jobs)
	}
}
