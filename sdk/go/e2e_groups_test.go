package herald

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/testkit"
)

// End-to-end tests of groups and calls against the real server, in
// process, through real sockets and SQLite.

func newE2ENoted(t *testing.T, srv *testkit.Server, user string) (*Client, *recorder, *notes) {
	t.Helper()
	c, r := newE2EClient(t, srv, user+"-dev", nil)
	n := &notes{}
	c.SetEventHandler(withNotes(r.handler(), n))
	e2eLogin(t, srv, c, user)
	return c, r, n
}

func wantCode(t *testing.T, what string, err error, code int) {
	t.Helper()
	if !errors.Is(err, &Error{Code: code}) {
		t.Errorf("%s: got %v, want code %d", what, err, code)
	}
}

func TestE2EGroups(t *testing.T) {
	srv := testkit.Start(t, nil)
	ctx := context.Background()
	alice, _, an := newE2ENoted(t, srv, "alice")
	bob, br, bn := newE2ENoted(t, srv, "bob")
	carol, _, cn := newE2ENoted(t, srv, "carol")

	open := GroupJoinModeAny
	res, err := alice.CreateGroupWithConfig(ctx, GroupInfo{GroupID: "team", GroupName: "Team", ExtendedData: "x"}, []string{"bob", "nobody"},
		GroupAdvancedConfig{JoinMode: &open})
	if err != nil {
		t.Fatal(err)
	}
	if e := res.ErrorUserList; len(e) != 1 || e[0].UserID != "nobody" || e[0].Code != CodeUserNotFound {
		t.Errorf("create with a user who never logged in: errorUserList %+v", e)
	}
	g := res.GroupInfo
	if g.GroupID != "team" || g.GroupName != "Team" || g.OwnerUserID != "alice" || g.MemberCount != 2 || g.MyRole != GroupMemberRoleOwner || g.CreatedAt.IsZero() || g.JoinMode != GroupJoinModeAny {
		t.Errorf("created %+v", g)
	}
	_, err = alice.CreateGroup(ctx, GroupInfo{GroupID: "team"}, nil)
	wantCode(t, "create with an ID in use", err, CodeGroupExists)
	an.waitFor(t, "groupState team enter created")
	i := bn.waitFor(t, "groupState team enter created")
	if st := bn.val(i).(GroupStateChangedInfo); st.OperatedBy != "alice" || st.GroupInfo.GroupName != "Team" {
		t.Errorf("bob's groupStateChanged = %+v", st)
	}
	auto, err := bob.CreateGroup(ctx, GroupInfo{GroupName: "no ID"}, nil)
	if err != nil || auto.GroupID == "" || auto.MemberCount != 1 || auto.JoinMode != GroupJoinModeAuth {
		t.Errorf("create with a server-made ID: %+v, %v", auto, err)
	}

	inv, err := bob.InviteUsersIntoGroup(ctx, []string{"carol"}, "team")
	if err != nil || fmt.Sprint(inv.UserIDs) != "[carol]" || inv.MemberCount != 3 {
		t.Fatalf("invite = %+v, %v", inv, err)
	}
	cn.waitFor(t, "groupState team enter invited")
	an.waitFor(t, "memberState team enter invited [carol]")
	_, err = alice.InviteUsersIntoGroup(ctx, []string{"carol"}, "team")
	wantCode(t, "invite a member", err, CodeAlreadyGroupMember)

	// Messages: to every member, through ReceiveGroupMessage.
	sent, err := alice.SendMessage(ctx, NewTextMessage("hello team"), "team", ConversationTypeGroup,
		MessageSendConfig{PushConfig: &PushConfig{Title: "Alice", Content: "hello team"}})
	if err != nil {
		t.Fatal(err)
	}
	if sent.ConversationSeq != 1 || sent.ConversationType != ConversationTypeGroup {
		t.Errorf("sent %+v", sent)
	}
	for _, n := range []*notes{bn, cn} {
		i := n.waitFor(t, "group team hello team offline=false")
		if m := n.val(i).(Message); m.SenderUserID != "alice" || m.MessageID != sent.MessageID || m.ConversationSeq != 1 {
			t.Errorf("delivered %+v", m)
		}
	}
	if len(br.texts()) != 0 {
		t.Errorf("group message reached ReceivePeerMessage: %q", br.texts())
	}
	hist, err := bob.QueryHistoryMessage(ctx, "team", ConversationTypeGroup, HistoryQueryConfig{})
	if err != nil || len(hist) != 1 || hist[0].Text != "hello team" {
		t.Errorf("group history = %+v, %v", hist, err)
	}

	// Offline members get the group's messages at login, once: the
	// acknowledgements (conversationType 2, the group ID) hold.
	if err := carol.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"away 1", "away 2"} {
		if _, err := bob.SendMessage(ctx, NewTextMessage(s), "team", ConversationTypeGroup, MessageSendConfig{}); err != nil {
			t.Fatal(err)
		}
	}
	carol2, cr2, cn2 := newE2ENoted(t, srv, "carol")
	cn2.waitFor(t, "group team away 2 offline=true")
	eventually(t, "carol's syncDone", func() bool { cr2.mu.Lock(); defer cr2.mu.Unlock(); return len(cr2.syncs) == 1 })
	if got := cn2.list(); len(got) != 2 || got[0] != "group team away 1 offline=true" {
		t.Errorf("carol's offline group messages: %q", got)
	}
	time.Sleep(200 * time.Millisecond) // the SDK acknowledges within AckInterval
	if err := carol2.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	carol3, cr3, cn3 := newE2ENoted(t, srv, "carol")
	eventually(t, "carol's second syncDone", func() bool { cr3.mu.Lock(); defer cr3.mu.Unlock(); return len(cr3.syncs) == 1 })
	time.Sleep(50 * time.Millisecond)
	if got := cn3.list(); len(got) != 0 || cr3.syncs[0] != 0 {
		t.Errorf("carol got group messages again after acknowledging them: %q, syncDone %v", got, cr3.syncs)
	}

	// Queries.
	info, err := carol3.QueryGroupInfo(ctx, "team")
	if err != nil || info.MemberCount != 3 || info.MyRole != GroupMemberRoleMember || info.OwnerUserID != "alice" {
		t.Errorf("group info = %+v, %v", info, err)
	}
	var members []GroupMemberInfo
	cfg := GroupMemberQueryConfig{Count: 2}
	for page := 0; ; page++ {
		ms, next, err := bob.QueryGroupMemberList(ctx, "team", cfg)
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, ms...)
		if next == "" || page > 3 {
			break
		}
		cfg.NextFlag = next
	}
	if len(members) != 3 || members[0].UserID != "alice" || members[0].MemberRole != GroupMemberRoleOwner ||
		members[2].UserID != "carol" || members[2].MemberRole != GroupMemberRoleMember || members[1].JoinedAt.IsZero() {
		t.Errorf("members = %+v", members)
	}
	list, err := bob.QueryGroupList(ctx)
	if err != nil || len(list) != 2 {
		t.Errorf("bob's groups = %+v, %v", list, err)
	}
	_, err = bob.QueryGroupInfo(ctx, "nosuchgroup")
	wantCode(t, "info of an unknown group", err, CodeGroupNotFound)

	// Roles, kick, transfer, leave, dismiss.
	if err := alice.SetGroupMemberRole(ctx, GroupMemberRoleAdmin, "bob", "team"); err != nil {
		t.Fatal(err)
	}
	i = cn3.waitFor(t, "memberInfo team")
	if mi := cn3.val(i).(GroupMemberInfoUpdatedInfo); len(mi.Members) != 1 || mi.Members[0].UserID != "bob" || mi.Members[0].MemberRole != GroupMemberRoleAdmin {
		t.Errorf("memberInfoUpdated = %+v", mi)
	}
	err = carol3.SetGroupMemberRole(ctx, GroupMemberRoleMember, "bob", "team")
	wantCode(t, "set role as a member", err, CodePermissionDenied)
	kick, err := bob.KickGroupMembers(ctx, []string{"carol"}, "team")
	if err != nil || fmt.Sprint(kick.UserIDs) != "[carol]" || kick.MemberCount != 2 {
		t.Fatalf("kick = %+v, %v", kick, err)
	}
	cn3.waitFor(t, "groupState team quit kickedOut")
	an.waitFor(t, "memberState team quit kickedOut [carol]")
	_, err = carol3.SendMessage(ctx, NewTextMessage("still here?"), "team", ConversationTypeGroup, MessageSendConfig{})
	wantCode(t, "send after a kick", err, CodeNotGroupMember)
	if _, err := carol3.JoinGroup(ctx, "team"); err != nil {
		t.Errorf("join: %v", err)
	}
	an.waitFor(t, "memberState team enter joined [carol]")

	wantCode(t, "owner leaves", alice.LeaveGroup(ctx, "team"), CodeOwnerCannotLeave)
	if err := alice.TransferGroupOwner(ctx, "bob", "team"); err != nil {
		t.Fatal(err)
	}
	if info, err := alice.QueryGroupInfo(ctx, "team"); err != nil || info.OwnerUserID != "bob" || info.MyRole != GroupMemberRoleMember {
		t.Errorf("after transfer: %+v, %v", info, err)
	}
	if err := alice.LeaveGroup(ctx, "team"); err != nil {
		t.Fatal(err)
	}
	an.waitFor(t, "groupState team quit left")
	wantCode(t, "dismiss as a member", carol3.DismissGroup(ctx, "team"), CodePermissionDenied)
	if err := bob.DismissGroup(ctx, "team"); err != nil {
		t.Fatal(err)
	}
	cn3.waitFor(t, "groupState team quit dismissed")
	bn.waitFor(t, "groupState team quit dismissed")
	_, err = bob.QueryGroupInfo(ctx, "team")
	wantCode(t, "info of a dismissed group", err, CodeGroupDismissed)
}

// TestE2EGroupJoinApplication: the approval flow through the SDK: a
// request, the owner's event and list, acceptance (the applicant is told
// and becomes a member), rejection, the join mode's change.
func TestE2EGroupJoinApplication(t *testing.T) {
	srv := testkit.Start(t, nil)
	ctx := context.Background()
	alice, _, an := newE2ENoted(t, srv, "alice")
	bob, _, bn := newE2ENoted(t, srv, "bob")
	carol, _, cn := newE2ENoted(t, srv, "carol")
	if _, err := alice.CreateGroup(ctx, GroupInfo{GroupID: "club", GroupName: "Club"}, nil); err != nil {
		t.Fatal(err)
	}

	g, err := bob.JoinGroup(ctx, "club")
	if !errors.Is(err, ErrGroupJoinPending) || g.GroupID != "club" || g.JoinMode != GroupJoinModeAuth {
		t.Fatalf("join an approval group: %+v, %v", g, err)
	}
	i := an.waitFor(t, "application added club bob")
	if a := an.val(i).(GroupApplicationInfo); a.State != GroupApplicationStateWaiting {
		t.Errorf("application %+v", a)
	}
	_, err = bob.SendGroupJoinApplication(ctx, "club", "again")
	wantCode(t, "apply twice", err, CodeJoinRequestPending)
	apps, next, err := alice.QueryGroupApplicationList(ctx, "club", GroupApplicationListQueryConfig{})
	if err != nil || len(apps) != 1 || apps[0].ApplyUserID != "bob" || next != "" {
		t.Fatalf("list %+v %q %v", apps, next, err)
	}
	if a, err := alice.AcceptGroupJoinApplication(ctx, "bob", "club"); err != nil || a.State != GroupApplicationStateAccepted {
		t.Fatalf("accept %+v %v", a, err)
	}
	bn.waitFor(t, "groupState club enter joined")
	bn.waitFor(t, fmt.Sprintf("applicationUpdated club bob %d", GroupApplicationStateAccepted))
	if info, err := bob.QueryGroupInfo(ctx, "club"); err != nil || info.MyRole != GroupMemberRoleMember {
		t.Fatalf("bob after acceptance %+v %v", info, err)
	}

	a, err := carol.SendGroupJoinApplication(ctx, "club", "me too")
	if err != nil || a.State != GroupApplicationStateWaiting || a.Wording != "me too" {
		t.Fatalf("carol applies %+v %v", a, err)
	}
	_, err = bob.RejectGroupJoinApplication(ctx, "carol", "club")
	wantCode(t, "reject as a member", err, CodePermissionDenied)
	if _, err := alice.RejectGroupJoinApplication(ctx, "carol", "club"); err != nil {
		t.Fatal(err)
	}
	cn.waitFor(t, fmt.Sprintf("applicationUpdated club carol %d", GroupApplicationStateRejected))
	_, err = carol.QueryGroupInfo(ctx, "club")
	wantCode(t, "carol after rejection", err, CodeNotGroupMember)

	if err := alice.UpdateGroupJoinMode(ctx, GroupJoinModeForbid, "club"); err != nil {
		t.Fatal(err)
	}
	bn.waitFor(t, fmt.Sprintf("joinMode club %d", GroupJoinModeForbid))
	_, err = carol.JoinGroup(ctx, "club")
	wantCode(t, "join an invite-only group", err, CodeGroupInviteOnly)
	wantCode(t, "bad mode", alice.UpdateGroupJoinMode(ctx, 5, "club"), CodeInvalidArgument)
	inv, err := alice.InviteUsersIntoGroup(ctx, []string{"carol", "ghost"}, "club")
	if err != nil || len(inv.UserIDs) != 1 || len(inv.ErrorUserList) != 1 || inv.ErrorUserList[0].Code != CodeUserNotFound {
		t.Fatalf("invite %+v %v", inv, err)
	}
}

func TestE2ECalls(t *testing.T) {
	srv := testkit.Start(t, nil)
	ctx := context.Background()
	alice, _, an := newE2ENoted(t, srv, "alice")
	bob, _, bn := newE2ENoted(t, srv, "bob")
	carol, _, cn := newE2ENoted(t, srv, "carol")
	dave, _, _ := newE2ENoted(t, srv, "dave")
	if err := dave.Logout(ctx); err != nil { // known to the app, now offline
		t.Fatal(err)
	}

	// Validation.
	_, err := alice.CallInvite(ctx, nil, CallInviteConfig{})
	wantCode(t, "no invitees", err, CodeInvalidInvitees)
	_, err = alice.CallInvite(ctx, []string{"alice"}, CallInviteConfig{})
	wantCode(t, "invite oneself", err, CodeInvalidInvitees)
	_, err = alice.CallInvite(ctx, []string{"bob"}, CallInviteConfig{Timeout: 601 * time.Second})
	wantCode(t, "timeout over the limit", err, CodeInvalidTimeout)
	_, err = alice.CallInvite(ctx, []string{"nobody"}, CallInviteConfig{})
	wantCode(t, "only unknown invitees", err, CodeUserNotFound)

	// Invite and accept; an unknown invitee is reported, not fatal.
	r, err := alice.CallInvite(ctx, []string{"bob", "nobody"}, CallInviteConfig{Timeout: 30 * time.Second, ExtendedData: "video",
		PushConfig: &PushConfig{Title: "Alice", Content: "calling"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.CallID == "" || r.Timeout != 30*time.Second || r.Deadline.IsZero() || len(r.ErrorInvitees) != 1 ||
		r.ErrorInvitees[0].UserID != "nobody" || r.ErrorInvitees[0].Code != CodeUserNotFound {
		t.Errorf("invite result %+v", r)
	}
	i := bn.waitFor(t, "callReceived "+r.CallID)
	if got := bn.val(i).(CallInvitationReceivedInfo); got.Inviter != "alice" || got.ExtendedData != "video" ||
		got.Mode != CallInvitationModeGeneral || got.Timeout <= 0 || got.Timeout > 30*time.Second {
		t.Errorf("received %+v", got)
	}
	if err := bob.CallAccept(ctx, r.CallID, CallAnswerConfig{ExtendedData: "ok"}); err != nil {
		t.Fatal(err)
	}
	an.waitFor(t, "callUserState "+r.CallID+" bob=accepted")
	wantCode(t, "accept twice", bob.CallAccept(ctx, r.CallID, CallAnswerConfig{}), CodeCallAnswered)
	info, err := alice.QueryCallInfo(ctx, r.CallID)
	if err != nil || info.Inviter != "alice" || info.CallID != r.CallID {
		t.Fatalf("call info %+v, %v", info, err)
	}
	states := map[string]CallUserState{}
	for _, u := range info.CallUserList {
		states[u.UserID] = u.State
	}
	if states["bob"] != CallUserStateAccepted {
		t.Errorf("call users %+v", info.CallUserList)
	}
	wantCode(t, "carol answers a call she is not in", carol.CallAccept(ctx, r.CallID, CallAnswerConfig{}), CodeNotCallInvitee)
	_, err = alice.QueryCallInfo(ctx, "nosuchcall")
	wantCode(t, "info of an unknown call", err, CodeCallNotFound)

	// Reject.
	r2, err := alice.CallInvite(ctx, []string{"carol"}, CallInviteConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Timeout != 90*time.Second {
		t.Errorf("default timeout %v", r2.Timeout)
	}
	cn.waitFor(t, "callReceived "+r2.CallID)
	if err := carol.CallReject(ctx, r2.CallID, CallAnswerConfig{}); err != nil {
		t.Fatal(err)
	}
	an.waitFor(t, "callUserState "+r2.CallID+" carol=rejected")

	// Cancel, with its own push config; answering afterwards fails.
	r3, err := alice.CallInvite(ctx, []string{"bob", "carol"}, CallInviteConfig{})
	if err != nil {
		t.Fatal(err)
	}
	bn.waitFor(t, "callReceived "+r3.CallID)
	wantCode(t, "cancel by an invitee", func() error {
		_, err := bob.CallCancel(ctx, nil, r3.CallID, CallCancelConfig{})
		return err
	}(), CodePermissionDenied)
	cr, err := alice.CallCancel(ctx, []string{"bob"}, r3.CallID, CallCancelConfig{ExtendedData: "sorry", PushConfig: &PushConfig{Title: "Alice", Content: "cancelled"}})
	if err != nil || cr.CallID != r3.CallID || len(cr.ErrorInvitees) != 0 {
		t.Fatalf("cancel %+v, %v", cr, err)
	}
	i = bn.waitFor(t, "callCancelled "+r3.CallID)
	if got := bn.val(i).(CallInvitationCancelledInfo); got.Inviter != "alice" || got.ExtendedData != "sorry" {
		t.Errorf("cancelled %+v", got)
	}
	wantCode(t, "accept a cancelled invitation", bob.CallAccept(ctx, r3.CallID, CallAnswerConfig{}), CodeCallEnded)
	if _, err := alice.CallCancel(ctx, nil, r3.CallID, CallCancelConfig{}); err != nil {
		t.Errorf("cancel the rest: %v", err)
	}
	cn.waitFor(t, "callCancelled "+r3.CallID)

	// Timeout.
	r4, err := alice.CallInvite(ctx, []string{"carol"}, CallInviteConfig{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cn.waitFor(t, "callTimeout "+r4.CallID)

	// An offline invitee gets the invitation at login, before the deadline.
	r5, err := alice.CallInvite(ctx, []string{"dave"}, CallInviteConfig{Timeout: 60 * time.Second, PushConfig: &PushConfig{Title: "Alice", Content: "calling"}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, dn := newE2ENoted(t, srv, "dave")
	i = dn.waitFor(t, "callReceived "+r5.CallID)
	if got := dn.val(i).(CallInvitationReceivedInfo); got.Inviter != "alice" || got.Timeout <= 0 || got.Timeout > 60*time.Second {
		t.Errorf("received at login %+v", got)
	}

	// Advanced mode: invite more, join, quit, end.
	r6, err := alice.CallInvite(ctx, []string{"bob"}, CallInviteConfig{Mode: CallInvitationModeAdvanced})
	if err != nil {
		t.Fatal(err)
	}
	bn.waitFor(t, "callReceived "+r6.CallID)
	if err := bob.CallAccept(ctx, r6.CallID, CallAnswerConfig{}); err != nil {
		t.Fatal(err)
	}
	ci, err := bob.CallingInvite(ctx, []string{"carol"}, r6.CallID, CallingInviteConfig{})
	if err != nil || ci.CallID != r6.CallID {
		t.Fatalf("calling invite %+v, %v", ci, err)
	}
	cn.waitFor(t, "callReceived "+r6.CallID)
	joined, err := carol.CallJoin(ctx, r6.CallID, CallAnswerConfig{})
	if err != nil || joined.CallID != r6.CallID || joined.Mode != CallInvitationModeAdvanced {
		t.Fatalf("join %+v, %v", joined, err)
	}
	if err := carol.CallQuit(ctx, r6.CallID, CallAnswerConfig{}); err != nil {
		t.Fatal(err)
	}
	an.waitFor(t, "callUserState "+r6.CallID+" carol=quit")
	if err := alice.CallEnd(ctx, r6.CallID, CallAnswerConfig{ExtendedData: "bye"}); err != nil {
		t.Fatal(err)
	}
	i = bn.waitFor(t, "callEnded "+r6.CallID)
	if got := bn.val(i).(CallInvitationEndedInfo); got.OperatedUserID != "alice" || got.Mode != CallInvitationModeAdvanced || got.EndTime.IsZero() {
		t.Errorf("ended %+v", got)
	}
	if info, err := alice.QueryCallInfo(ctx, r6.CallID); err != nil || !info.Ended {
		t.Errorf("info after end %+v, %v", info, err)
	}
}
