package storetest

import (
	"fmt"
	"testing"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

// testNotifyStatus: a user's notification status of a conversation is
// stored per user and conversation, replaced by a later one, kept across a
// restart and read with the conversation list (1 when never set), peer and
// group; the badge count leaves out do-not-disturb (2) conversations only;
// a message's mention list comes back with the message.
func testNotifyStatus(t *testing.T, e *env) {
	ns, ok := e.s.(im.NotifyStore)
	if !ok {
		t.Fatalf("%T does not implement im.NotifyStore", e.s)
	}
	ctx := t.Context()
	e.app("a1")
	e.send("a1", "bob", "alice", 2)
	e.send("a1", "carol", "alice", 1)
	e.group("a1", "g", "bob", "alice")
	m := e.gmsg("a1", "g", "bob", "g1", "@alice")
	m.MentionedUsers, m.MentionAll = []string{"alice", "dave"}, true
	e.append(m, e.gmsg("a1", "g", "bob", "g2", "plain"))

	peer := im.PeerConvID("alice", "bob")
	if err := ns.SetNotifyStatus(ctx, "a1", "alice", peer, 1, base); err != nil {
		t.Fatal(err)
	}
	if err := ns.SetNotifyStatus(ctx, "a1", "alice", peer, 2, base); err != nil { // replaces
		t.Fatal(err)
	}
	if err := ns.SetNotifyStatus(ctx, "a1", "alice", im.GroupConvID("g"), 3, base); err != nil {
		t.Fatal(err)
	}
	check := func(step string) {
		t.Helper()
		cs, err := e.s.Conversations(ctx, "a1", "alice", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, c := range cs {
			got[c.PeerID] = c.NotifyStatus
			if c.PeerID == "g" && (c.LastMsg == nil || c.LastMsg.MentionedUsers != nil) {
				t.Errorf("%s: group's last message %+v", step, c.LastMsg)
			}
		}
		if fmt.Sprint(got) != "map[bob:2 carol:1 g:3]" {
			t.Errorf("%s: statuses %v", step, got)
		}
		if c, err := e.s.Conversation(ctx, "a1", "alice", im.GroupConvID("g")); err != nil || c.NotifyStatus != 3 || c.Unread != 2 {
			t.Errorf("%s: Conversation(g) = %+v, %v", step, c, err)
		}
		if c, err := e.s.Conversation(ctx, "a1", "bob", peer); err != nil || c.NotifyStatus != 1 {
			t.Errorf("%s: bob's own status %+v, %v", step, c, err)
		}
		// carol's 1 and the group's 2 (mentions-only counts); bob's 2 left out.
		if n, err := e.s.(push.UnreadCounter).UnreadTotal(ctx, "a1", "alice"); err != nil || n != 3 {
			t.Errorf("%s: UnreadTotal = %d, %v; want 3", step, n, err)
		}
		ms, err := e.s.MessagesAfter(ctx, "a1", im.GroupConvID("g"), 0, 10)
		if err != nil || len(ms) != 2 {
			t.Fatalf("%s: %v %v", step, ms, err)
		}
		if fmt.Sprint(ms[0].MentionedUsers) != "[alice dave]" || !ms[0].MentionAll || ms[1].MentionedUsers != nil || ms[1].MentionAll {
			t.Errorf("%s: mentions %v %v / %v %v", step, ms[0].MentionedUsers, ms[0].MentionAll, ms[1].MentionedUsers, ms[1].MentionAll)
		}
	}
	check("stored")
	e.reopen()
	check("after reopen")
}
