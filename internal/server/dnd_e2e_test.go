package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/testkit"
)

// setStatus sets c's notification status of a conversation.
func setStatus(c *testkit.Client, status int, conv string, convType int) *protocol.Error {
	var r protocol.SetConversationNotificationStatusReply
	err := c.Call(protocol.TypeSetConversationNotificationStatus, protocol.SetConversationNotificationStatusRequest{
		Status: status, ConversationID: conv, ConversationType: convType}, &r)
	if err == nil && (r.Status != status || r.ConversationID != conv || r.ConversationType != convType) {
		return &protocol.Error{Code: protocol.CodeInternal, Message: fmt.Sprintf("reply %+v", r)}
	}
	return err
}

// offlineWith logs user in on its phone with an APNs registration, lets
// do run (statuses to set), then drops the connection without a logout and
// waits until the user is offline.
func offlineWith(t *testing.T, s *testkit.Server, em *apnsemu.Emulator, user string, do func(c *testkit.Client)) string {
	t.Helper()
	tok := em.RegisterDevice(bundle, apnsemu.Development, false)
	reg := protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle}
	c := testkit.Dial(t, s.URL)
	mustOK(t, "login "+user, c.Call(protocol.TypeLogin, protocol.LoginRequest{AppID: s.App.AppID, UserID: user,
		Token: s.Token(t, user, time.Hour), Platform: "ios", DeviceID: "phone-" + user, Push: &reg}, nil))
	c.SyncDone(wait)
	if do != nil {
		do(c)
	}
	c.Close()
	deadline := time.Now().Add(wait)
	for s.Online(user) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still online", user)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return tok
}

func conversations(t *testing.T, c *testkit.Client) map[string]protocol.Conversation {
	t.Helper()
	var r protocol.ConversationListReply
	mustOK(t, "conversationList", c.Call(protocol.TypeConversationList, protocol.ConversationListRequest{}, &r))
	out := map[string]protocol.Conversation{}
	for _, cv := range r.Conversations {
		out[cv.ConversationID] = cv
	}
	return out
}

// TestConversationNotificationStatusSynced: a status set on one device
// reaches every live session of the user as conversationChanged, is in
// conversationList for a device that logs in later, and bad requests are
// refused with their codes and change nothing.
func TestConversationNotificationStatusSynced(t *testing.T) {
	s := testkit.Start(t, nil)
	phone := s.LoginAs(t, "alice", "ios", "phone")
	phone.SyncDone(wait)
	desktop := s.LoginAs(t, "alice", "macos", "desktop")
	desktop.SyncDone(wait)
	bob := member(t, s, "bob")
	if _, err := bob.SendText("alice", "b1", "hi alice"); err != nil {
		t.Fatal(err)
	}
	phone.Message(wait)
	desktop.Message(wait)

	mustOK(t, "dnd", setStatus(phone, protocol.NotifyStatusDoNotDisturb, "bob", protocol.ConversationPeer))
	for name, c := range map[string]*testkit.Client{"phone": phone, "desktop": desktop} {
		ev := event[protocol.ConversationChanged](t, c, protocol.EventConversationChanged)
		if len(ev.InfoList) != 1 {
			t.Fatalf("%s: %+v", name, ev)
		}
		cv := ev.InfoList[0].Conversation
		if cv.ConversationID != "bob" || cv.ConversationType != 0 || cv.NotificationStatus != protocol.NotifyStatusDoNotDisturb ||
			cv.UnreadMessageCount != 1 || cv.LastMessage == nil || cv.LastMessage.Text != "hi alice" {
			t.Fatalf("%s got %+v", name, cv)
		}
	}
	// Nobody else hears of it.
	bob.NoEvent(50 * time.Millisecond)

	// Refused, nothing changes: mentionsOnly is for groups; unknown status;
	// a group one is not in; a bad conversation type.
	wantCode(t, "mentionsOnly on peer", setStatus(phone, protocol.NotifyStatusMentionsOnly, "bob", protocol.ConversationPeer), protocol.CodeInvalidNotifyStatus)
	wantCode(t, "status 0", setStatus(phone, 0, "bob", protocol.ConversationPeer), protocol.CodeInvalidNotifyStatus)
	wantCode(t, "status 4", setStatus(phone, 4, "bob", protocol.ConversationPeer), protocol.CodeInvalidNotifyStatus)
	wantCode(t, "not a member", setStatus(phone, protocol.NotifyStatusDoNotDisturb, "nogroup", protocol.ConversationGroup), protocol.CodeGroupNotFound)
	wantCode(t, "bad type", setStatus(phone, protocol.NotifyStatusDoNotDisturb, "bob", 5), protocol.CodeInvalidConversation)
	wantCode(t, "self", setStatus(phone, protocol.NotifyStatusDoNotDisturb, "alice", protocol.ConversationPeer), protocol.CodeInvalidConversation)
	desktop.NoEvent(50 * time.Millisecond)

	// A device that was offline reads the status from the list.
	tablet := s.LoginAs(t, "alice", "ipados", "tablet")
	tablet.SyncDone(wait)
	if cv := conversations(t, tablet)["bob"]; cv.NotificationStatus != protocol.NotifyStatusDoNotDisturb || cv.UnreadMessageCount != 1 {
		t.Fatalf("tablet's list: %+v", cv)
	}
	if cv := conversations(t, bob)["alice"]; cv.NotificationStatus != protocol.NotifyStatusNotify {
		t.Fatalf("bob's own status changed: %+v", cv)
	}

	// Back to notify; groups take mentionsOnly.
	mustOK(t, "notify", setStatus(desktop, protocol.NotifyStatusNotify, "bob", protocol.ConversationPeer))
	if ev := event[protocol.ConversationChanged](t, tablet, protocol.EventConversationChanged); ev.InfoList[0].Conversation.NotificationStatus != protocol.NotifyStatusNotify {
		t.Fatalf("tablet got %+v", ev)
	}
	mustOK(t, "create", bob.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "team", Name: "Team", Members: []string{"alice"}}, nil))
	mustOK(t, "mentionsOnly", setStatus(tablet, protocol.NotifyStatusMentionsOnly, "team", protocol.ConversationGroup))
	deadline := time.Now().Add(wait)
	for {
		f := phone.Next(wait)
		if f.Type != protocol.EventConversationChanged {
			continue // the group's own events
		}
		var ev protocol.ConversationChanged
		if err := json.Unmarshal(f.Data, &ev); err != nil {
			t.Fatal(err)
		}
		cv := ev.InfoList[0].Conversation
		if cv.ConversationID == "bob" && cv.NotificationStatus == protocol.NotifyStatusNotify {
			continue // the desktop's change back to notify
		}
		if cv.ConversationID != "team" || cv.ConversationType != 2 || cv.NotificationStatus != protocol.NotifyStatusMentionsOnly {
			t.Fatalf("phone got %+v", cv)
		}
		break
	}
	if time.Now().After(deadline) {
		t.Fatal("no conversationChanged for the group")
	}
}

// TestDoNotDisturbCountsUnreadWithoutPush: messages of a conversation the
// recipient set to do-not-disturb count unread but plan no push job and
// reach no vendor; a conversation left on notify is pushed as before.
func TestDoNotDisturbCountsUnreadWithoutPush(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	tok := offlineWith(t, s, em, "bob", func(c *testkit.Client) {
		mustOK(t, "dnd", setStatus(c, protocol.NotifyStatusDoNotDisturb, "alice", protocol.ConversationPeer))
	})
	alice := member(t, s, "alice")
	carol := member(t, s, "carol")
	pc := &protocol.PushConfig{Title: "t", Content: "c"}
	sendWithPush(t, alice, "bob", "a1", pc)
	sendWithPush(t, alice, "bob", "a2", pc)
	// Carol's conversation is on notify: her push is planned and sent
	// after alice's commits, whose planning wrote nothing.
	sendWithPush(t, carol, "bob", "c1", pc)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := em.WaitDeliveries(ctx, tok, 1); err != nil {
		t.Fatalf("carol's push: %v (jobs %+v)", err, jobsFor(t, s, "bob"))
	}
	j := waitJob(t, s, "bob", push.JobDelivered)
	if jobs := jobsFor(t, s, "bob"); len(jobs) != 1 || jobs[0].ID != j.ID {
		t.Fatalf("bob's jobs: %+v", jobs)
	}
	if ds := em.Deliveries(tok); len(ds) != 1 {
		t.Fatalf("APNs deliveries %+v", ds)
	}
	for _, r := range em.Requests() {
		if r.Token == tok && r.Status != 200 {
			t.Fatalf("request %+v", r)
		}
	}
	if n := len(em.Requests()); n != 1 {
		t.Fatalf("%d vendor requests, want 1", n)
	}

	// The late path too: bob's session that got alice's message live and
	// ends unacknowledged owes no push for the DND conversation.
	bob := s.LoginAs(t, "bob", "ios", "phone-bob")
	msgs, _ := bob.SyncDone(wait)
	if len(msgs) != 3 {
		t.Fatalf("bob synced %+v", msgs)
	}
	cvs := conversations(t, bob)
	if cv := cvs["alice"]; cv.UnreadMessageCount != 2 || cv.NotificationStatus != protocol.NotifyStatusDoNotDisturb {
		t.Fatalf("alice's conversation: %+v", cv)
	}
	if cv := cvs["carol"]; cv.UnreadMessageCount != 1 || cv.NotificationStatus != protocol.NotifyStatusNotify {
		t.Fatalf("carol's conversation: %+v", cv)
	}
	ends := watchEnds(t, s)
	sendWithPush(t, alice, "bob", "a3", pc)
	bob.Message(wait)
	bob.Close()
	ends.wait(1, wait)
	if jobs := jobsFor(t, s, "bob"); len(jobs) != 1 {
		t.Fatalf("the late check planned a push in a DND conversation: %+v", jobs)
	}
}

// TestMentionsOnlyPushesMentions: in a group, a member on mentionsOnly is
// pushed only the messages that mention it or @all; a member on
// do-not-disturb only those too; a member on notify every message. The
// mention list is delivered live and by history; bad lists are refused.
func TestMentionsOnlyPushesMentions(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	alice := member(t, s, "alice")
	for _, u := range []string{"bob", "carol", "erin"} {
		member(t, s, u).Close()
	}
	dave := member(t, s, "dave")
	mustOK(t, "create", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "team", Name: "Team",
		Members: []string{"bob", "carol", "dave", "erin"}}, nil))
	event[protocol.GroupStateChanged](t, dave, protocol.EventGroupStateChanged)
	toks := map[string]string{
		"bob": offlineWith(t, s, em, "bob", func(c *testkit.Client) {
			mustOK(t, "mentionsOnly", setStatus(c, protocol.NotifyStatusMentionsOnly, "team", protocol.ConversationGroup))
		}),
		"carol": offlineWith(t, s, em, "carol", func(c *testkit.Client) {
			mustOK(t, "dnd", setStatus(c, protocol.NotifyStatusDoNotDisturb, "team", protocol.ConversationGroup))
		}),
		"erin": offlineWith(t, s, em, "erin", nil),
	}
	send := func(local string, mentions []string, all bool) {
		t.Helper()
		mustOK(t, local, alice.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: "team", ConversationType: protocol.ConversationGroup,
			LocalMessageID: local, Type: protocol.MessageText, Text: local, MentionedUserIDs: mentions, IsMentionAll: all,
			PushConfig: &protocol.PushConfig{Title: "Team", Content: local}}, nil))
	}
	send("plain", nil, false)
	send("to-bob", []string{"bob", "dave", "bob"}, false)
	send("to-all", nil, true)

	if m := dave.Message(wait); m.Text != "plain" || m.MentionedUserIDs != nil || m.IsMentionAll {
		t.Fatalf("dave got %+v", m)
	}
	if m := dave.Message(wait); m.Text != "to-bob" || fmt.Sprint(m.MentionedUserIDs) != "[bob dave]" || m.IsMentionAll {
		t.Fatalf("dave got %+v", m)
	}
	if m := dave.Message(wait); m.Text != "to-all" || m.MentionedUserIDs != nil || !m.IsMentionAll {
		t.Fatalf("dave got %+v", m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	want := map[string][]string{"bob": {"to-bob", "to-all"}, "carol": {"to-all"}, "erin": {"plain", "to-bob", "to-all"}}
	// Each message's members are one fan-out page, planned by one
	// statement: once erin (on notify) has a job for all three messages,
	// bob's and carol's planning of them is done too.
	if _, err := em.WaitDeliveries(ctx, toks["erin"], 3); err != nil {
		t.Fatalf("erin: %v (jobs %+v)", err, jobsFor(t, s, "erin"))
	}
	for u, texts := range want {
		ds, err := em.WaitDeliveries(ctx, toks[u], len(texts))
		if err != nil {
			t.Fatalf("%s: %v (jobs %+v)", u, err, jobsFor(t, s, u))
		}
		var got []string
		for _, d := range ds {
			alert, _ := d.Aps()["alert"].(map[string]any)
			got = append(got, fmt.Sprint(alert["body"]))
		}
		// The dispatcher sends one user's jobs concurrently: any order.
		slices.Sort(got)
		slices.Sort(texts)
		if fmt.Sprint(got) != fmt.Sprint(texts) || len(jobsFor(t, s, u)) != len(texts) {
			t.Fatalf("%s was pushed %v (jobs %+v), want %v", u, got, jobsFor(t, s, u), texts)
		}
	}
	// Stored with the message: history has the lists.
	ms, herr := history(t, dave, "team")
	mustOK(t, "history", herr)
	if len(ms) != 3 || fmt.Sprint(ms[1].MentionedUserIDs) != "[bob dave]" || !ms[0].IsMentionAll {
		t.Fatalf("history %+v", ms)
	}

	// Bad lists: nothing stored.
	bad := func(what string, r protocol.SendRequest) {
		t.Helper()
		r.LocalMessageID, r.Type, r.Text = "bad-"+what, protocol.MessageText, "x"
		wantCode(t, what, alice.Call(protocol.TypeSend, r, nil), protocol.CodeInvalidMention)
	}
	bad("peer", protocol.SendRequest{ConversationID: "bob", MentionedUserIDs: []string{"bob"}})
	bad("peer-all", protocol.SendRequest{ConversationID: "bob", IsMentionAll: true})
	bad("invalid-id", protocol.SendRequest{ConversationID: "team", ConversationType: 2, MentionedUserIDs: []string{"bo b"}})
	bad("system", protocol.SendRequest{ConversationID: "team", ConversationType: 2, MentionedUserIDs: []string{protocol.SystemUserID}})
	many := make([]string, protocol.MaxMentionedUsers+1)
	for i := range many {
		many[i] = fmt.Sprintf("u%d", i)
	}
	bad("too-many", protocol.SendRequest{ConversationID: "team", ConversationType: 2, MentionedUserIDs: many})
	wantCode(t, "command", alice.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: "team", ConversationType: 2,
		Type: protocol.MessageCommand, Data: []byte("x"), IsMentionAll: true}, nil), protocol.CodeInvalidMention)
	if ms, _ := history(t, dave, "team"); len(ms) != 3 {
		t.Fatalf("a refused send was stored: %+v", ms)
	}
}

// TestBadgeIsUnreadExceptDoNotDisturb: a push config with enableBadge
// carries the recipient's unread count across its conversations, leaving
// out those set to do-not-disturb, raised by badgeIncrement; the phone
// (APNs emulator) shows that number.
func TestBadgeIsUnreadExceptDoNotDisturb(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startAPNs(t, s)
	tok := offlineWith(t, s, em, "bob", func(c *testkit.Client) {
		mustOK(t, "dnd", setStatus(c, protocol.NotifyStatusDoNotDisturb, "dave", protocol.ConversationPeer))
	})
	carol, dave, alice := member(t, s, "carol"), member(t, s, "dave"), member(t, s, "alice")
	for i := range 2 {
		if _, err := carol.SendText("bob", fmt.Sprint("c", i), "from carol"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 { // do-not-disturb: not in the badge
		if _, err := dave.SendText("bob", fmt.Sprint("d", i), "from dave"); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	sendWithPush(t, alice, "bob", "a1", &protocol.PushConfig{Title: "Alice", Content: "one", EnableBadge: true, BadgeIncrement: 1})
	ds, err := em.WaitDeliveries(ctx, tok, 1)
	if err != nil {
		t.Fatalf("no push: %v (jobs %+v)", err, jobsFor(t, s, "bob"))
	}
	// carol's 2 + alice's message (increment 1); dave's 3 left out.
	if b, ok := ds[0].Aps()["badge"].(float64); !ok || b != 3 {
		t.Fatalf("badge %v, want 3 (%+v)", ds[0].Aps()["badge"], ds[0].Payload)
	}
	// Increment 2: the conversations say 3 without this message.
	sendWithPush(t, alice, "bob", "a2", &protocol.PushConfig{Title: "Alice", Content: "two", EnableBadge: true, BadgeIncrement: 2})
	if ds, err = em.WaitDeliveries(ctx, tok, 2); err != nil {
		t.Fatal(err)
	}
	if b := ds[1].Aps()["badge"]; b != float64(5) {
		t.Fatalf("badge %v, want 5", b)
	}
	if info, _ := em.Device(tok); info.Badge == nil || *info.Badge != 5 {
		t.Fatalf("the phone shows %v", info.Badge)
	}
	// Without enableBadge no badge is set, and the icon keeps its number.
	sendWithPush(t, alice, "bob", "a3", &protocol.PushConfig{Title: "Alice", Content: "three"})
	if ds, err = em.WaitDeliveries(ctx, tok, 3); err != nil {
		t.Fatal(err)
	}
	if _, has := ds[2].Aps()["badge"]; has {
		t.Fatalf("badge without enableBadge: %+v", ds[2].Payload)
	}
	wantCode(t, "negative increment", alice.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: "bob", LocalMessageID: "bad",
		Type: 1, Text: "x", PushConfig: &protocol.PushConfig{EnableBadge: true, BadgeIncrement: -1}}, nil), protocol.CodeInvalidPushConfig)
}

// TestBadgeReachesFCM: on Android through FCM the same badge number is
// android.notification.notification_count, which the FCM emulator checks
// (an integer, not negative) and records on the device's notification.
func TestBadgeReachesFCM(t *testing.T) {
	s := testkit.Start(t, nil)
	em := startFCM(t, s)
	tok := em.RegisterDevice("herald-test", bundle)
	reg := protocol.PushRegistration{Vendor: "fcm", Token: tok, Environment: "production", BundleID: bundle}
	c := testkit.Dial(t, s.URL)
	mustOK(t, "login", c.Call(protocol.TypeLogin, protocol.LoginRequest{AppID: s.App.AppID, UserID: "bob",
		Token: s.Token(t, "bob", time.Hour), Platform: "android", DeviceID: "phone-bob", Push: &reg}, nil))
	c.SyncDone(wait)
	mustOK(t, "dnd", setStatus(c, protocol.NotifyStatusDoNotDisturb, "dave", protocol.ConversationPeer))
	c.Close()
	deadline := time.Now().Add(wait)
	for s.Online("bob") {
		if time.Now().After(deadline) {
			t.Fatal("bob still online")
		}
		time.Sleep(5 * time.Millisecond)
	}
	carol, dave, alice := member(t, s, "carol"), member(t, s, "dave"), member(t, s, "alice")
	if _, err := carol.SendText("bob", "c1", "from carol"); err != nil {
		t.Fatal(err)
	}
	if _, err := dave.SendText("bob", "d1", "muted"); err != nil {
		t.Fatal(err)
	}
	sendWithPush(t, alice, "bob", "a1", &protocol.PushConfig{Title: "Alice", Content: "hi", EnableBadge: true, BadgeIncrement: 1})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	d, err := em.Next(ctx, tok)
	if err != nil {
		t.Fatalf("no push reached FCM: %v (jobs %+v)", err, jobsFor(t, s, "bob"))
	}
	if a := d.Message.Android; a == nil || a.Notification == nil || a.Notification.NotificationCount == nil || *a.Notification.NotificationCount != 2 {
		t.Fatalf("FCM got %+v", d.Message.Android)
	}
}
