package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
)

// sendMany pipelines n messages of the given priority and size from c to
// peer and waits for every reply.
func sendMany(t *testing.T, c *testkit.Client, peer string, n, prio, size int) {
	t.Helper()
	sendManyTo(t, c, peer, protocol.ConversationPeer, n, prio, size)
}

// sendManyTo is sendMany to a conversation of any type.
func sendManyTo(t *testing.T, c *testkit.Client, conv string, convType, n, prio, size int) {
	t.Helper()
	body := strings.Repeat("x", size)
	replies := make([]chan protocol.Frame, n)
	for i := range n {
		id := fmt.Sprint("p", prio, "-", i)
		replies[i] = c.Expect(id)
		c.Send(protocol.TypeSend, id, protocol.SendRequest{ConversationID: conv, ConversationType: convType, LocalMessageID: id, Type: 1, Text: fmt.Sprintf("%06d%s", i, body), Priority: prio})
	}
	for i := range n {
		if f := c.Wait(replies[i], 30*time.Second); f.Error != nil {
			t.Fatalf("send %d: %v", i, f.Error)
		}
	}
}

// TestLowPriorityShedThenDeliveredInOrder: a congested recipient's queue
// sheds low-priority messages instead of growing or disconnecting; once it
// reads again it still gets every message, in order, once.
func TestLowPriorityShedThenDeliveredInOrder(t *testing.T) {
	s := testkit.Start(t, func(c *config.Config) {
		c.SendQueue = 16
		c.WriteTimeout = time.Minute
	})
	alice := s.LoginAs(t, "alice", "ios", "a")
	alice.SyncDone(wait)
	bob := s.LoginAs(t, "bob", "ios", "b")
	bob.SyncDone(wait)
	bob.Pause()
	const n = 1500 // 12 MB: far more than the socket buffers hold
	sendMany(t, alice, "bob", n, protocol.PriorityLow, 8000)
	if !s.Online("bob") {
		t.Fatal("a congested session with only low-priority traffic was disconnected")
	}
	shed := s.Metric(t, "herald_messages_shed_total")
	if shed == 0 {
		t.Fatal("nothing was shed: the test did not congest the session")
	}
	bob.Resume()
	for i := range n {
		m := bob.Message(wait)
		if m.ConversationSeq != int64(i+1) {
			t.Fatalf("message %d has seq %d: out of order or duplicated", i, m.ConversationSeq)
		}
	}
	bob.NoEvent(300 * time.Millisecond)
	t.Logf("%v of %d messages were shed and fetched again from the store", shed, n)
}

// TestHopelesslySlowSessionClosed: when even high-priority messages cannot
// be queued the session is closed with the slow code, and a new login
// resyncs everything.
func TestHopelesslySlowSessionClosed(t *testing.T) {
	s := testkit.Start(t, func(c *config.Config) {
		c.SendQueue = 16
		c.WriteTimeout = time.Minute
	})
	alice := s.LoginAs(t, "alice", "ios", "a")
	alice.SyncDone(wait)
	bob := s.LoginAs(t, "bob", "ios", "b")
	bob.SyncDone(wait)
	bob.Pause()
	const n = 1500
	sendMany(t, alice, "bob", n, protocol.PriorityHigh, 8000)
	bob.Resume()
	// Drain what was written before the close.
	for {
		select {
		case <-bob.Events:
			continue
		case <-bob.Closed():
		case <-time.After(wait):
			t.Fatal("slow session not closed")
		}
		break
	}
	if code := bob.CloseCode(wait); code != protocol.CloseSlow {
		t.Fatalf("close code %d, want %d", code, protocol.CloseSlow)
	}
	again := s.LoginAs(t, "bob", "ios", "b")
	msgs, count := again.SyncDone(30 * time.Second)
	if count != n || msgs[n-1].ConversationSeq != n {
		t.Fatalf("resync after slow close got %d of %d", count, n)
	}
}

// TestGroupSlowMemberHoldsNobody: a member that stops reading does not slow
// the others down; its queue sheds low-priority group messages, and once it
// reads again it gets every message, in order, once.
func TestGroupSlowMemberHoldsNobody(t *testing.T) {
	s := testkit.Start(t, func(c *config.Config) {
		c.SendQueue = 16
		c.WriteTimeout = time.Minute
	})
	alice, bob, carol := member(t, s, "alice"), member(t, s, "bob"), member(t, s, "carol")
	mustOK(t, "create", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "g", Name: "G", Members: []string{"bob", "carol"}}, nil))
	for _, c := range []*testkit.Client{alice, bob, carol} {
		event[protocol.GroupStateChanged](t, c, protocol.EventGroupStateChanged)
	}
	bob.Pause()
	const n = 1500
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			if m := carol.Message(wait); m.ConversationSeq != int64(i+1) {
				t.Errorf("carol's message %d has seq %d", i, m.ConversationSeq)
				return
			}
		}
	}()
	sendManyTo(t, alice, "g", protocol.ConversationGroup, n, protocol.PriorityLow, 8000)
	<-done // carol got everything while bob was not reading
	if !s.Online("bob") {
		t.Fatal("a congested member with only low-priority traffic was disconnected")
	}
	if s.Metric(t, "herald_messages_shed_total") == 0 {
		t.Fatal("nothing was shed: the test did not congest bob")
	}
	bob.Resume()
	for i := range n {
		if m := bob.Message(wait); m.ConversationSeq != int64(i+1) || m.ConversationID != "g" {
			t.Fatalf("bob's message %d: seq %d of %s", i, m.ConversationSeq, m.ConversationID)
		}
	}
	bob.NoEvent(300 * time.Millisecond)
}
