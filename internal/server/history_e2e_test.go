package server_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
)

func seqsOf(ms []protocol.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.ConversationSeq
	}
	return out
}

func seqRange(from, to int64) []int64 {
	out := []int64{}
	if from <= to {
		for s := from; s <= to; s++ {
			out = append(out, s)
		}
	} else {
		for s := from; s >= to; s-- {
			out = append(out, s)
		}
	}
	return out
}

func at(n int64) *int64 { return &n }

// historyCase is one history request and the page it must return, or the
// error it must fail with.
type historyCase struct {
	name    string
	c       *testkit.Client
	req     any
	want    []int64
	hasMore bool
	code    protocol.Code
}

func runHistoryCases(t *testing.T, cases []historyCase) {
	t.Helper()
	for _, tt := range cases {
		var r protocol.HistoryReply
		err := tt.c.Call(protocol.TypeHistory, tt.req, &r)
		if tt.code != 0 {
			if err == nil || err.Code != tt.code {
				t.Errorf("%s: want error %s, got %v (page %v)", tt.name, tt.code.Name(), err, seqsOf(r.Messages))
			} else if len(r.Messages) != 0 {
				t.Errorf("%s: failed with %d messages", tt.name, len(r.Messages))
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := seqsOf(r.Messages); !slices.Equal(got, tt.want) || r.HasMore != tt.hasMore {
			t.Errorf("%s: got %v hasMore %v, want %v hasMore %v", tt.name, got, r.HasMore, tt.want, tt.hasMore)
		}
	}
}

// TestHistoryForward pages a peer conversation forward with afterSeq,
// oldest first, and checks that the backward page is as before and that
// bad requests fail and change nothing.
func TestHistoryForward(t *testing.T) {
	s := testkit.Start(t, nil)
	alice := s.LoginAs(t, "alice", "ios", "a1")
	alice.SyncDone(wait)
	const total = 105
	for i := range total {
		if _, err := alice.SendText("bob", fmt.Sprint("b", i), fmt.Sprint("to bob ", i)); err != nil {
			t.Fatal(err)
		}
	}
	bob := s.LoginAs(t, "bob", "android", "b1")
	bob.SyncDone(wait)
	fwd := func(after int64, count int) protocol.HistoryRequest {
		return protocol.HistoryRequest{ConversationID: "alice", AfterSeq: at(after), Count: count}
	}
	cases := []historyCase{
		{name: "forward from 0", c: bob, req: fwd(0, 3), want: seqRange(1, 3), hasMore: true},
		{name: "forward from 0 on the wire", c: bob, req: map[string]any{"conversationID": "alice", "afterSeq": 0, "count": 2}, want: seqRange(1, 2), hasMore: true},
		{name: "forward from N", c: bob, req: fwd(3, 3), want: seqRange(4, 6), hasMore: true},
		{name: "the sender pages the same", c: alice, req: protocol.HistoryRequest{ConversationID: "bob", AfterSeq: at(3), Count: 3}, want: seqRange(4, 6), hasMore: true},
		{name: "count 0 means 20", c: bob, req: fwd(10, 0), want: seqRange(11, 30), hasMore: true},
		{name: "count above 100 is 100", c: bob, req: fwd(0, 500), want: seqRange(1, 100), hasMore: true},
		{name: "last page exactly", c: bob, req: fwd(total-3, 3), want: seqRange(total-2, total), hasMore: false},
		{name: "last page short", c: bob, req: fwd(total-2, 10), want: seqRange(total-1, total), hasMore: false},
		{name: "after the newest", c: bob, req: fwd(total, 10), want: []int64{}, hasMore: false},
		{name: "far after the newest", c: bob, req: fwd(1000, 10), want: []int64{}, hasMore: false},
		{name: "unknown conversation", c: bob, req: protocol.HistoryRequest{ConversationID: "zed", AfterSeq: at(0)}, want: []int64{}, hasMore: false},
		{name: "backward without afterSeq", c: bob, req: protocol.HistoryRequest{ConversationID: "alice", Count: 3}, want: seqRange(total, total-2), hasMore: true},
		{name: "backward with beforeSeq 0 on the wire", c: bob, req: map[string]any{"conversationID": "alice", "beforeSeq": 0, "count": 3}, want: seqRange(total, total-2), hasMore: true},
		{name: "backward from N", c: bob, req: protocol.HistoryRequest{ConversationID: "alice", BeforeSeq: 4, Count: 5}, want: seqRange(3, 1), hasMore: false},
		{name: "afterSeq 0 with beforeSeq 0 is forward", c: bob, req: map[string]any{"conversationID": "alice", "beforeSeq": 0, "afterSeq": 0, "count": 1}, want: []int64{1}, hasMore: true},
		{name: "both", c: bob, req: protocol.HistoryRequest{ConversationID: "alice", BeforeSeq: 10, AfterSeq: at(2)}, code: protocol.CodeInvalidArgument},
		{name: "both, afterSeq 0", c: bob, req: protocol.HistoryRequest{ConversationID: "alice", BeforeSeq: 10, AfterSeq: at(0)}, code: protocol.CodeInvalidArgument},
		{name: "negative afterSeq", c: bob, req: fwd(-1, 3), code: protocol.CodeInvalidArgument},
		{name: "negative count forward", c: bob, req: fwd(0, -1), code: protocol.CodeInvalidArgument},
		{name: "afterSeq not a number", c: bob, req: map[string]any{"conversationID": "alice", "afterSeq": "3"}, code: protocol.CodeBadFrame},
		{name: "forward with yourself", c: bob, req: protocol.HistoryRequest{ConversationID: "bob", AfterSeq: at(0)}, code: protocol.CodeInvalidConversation},
		// After the failures, the same pages as before.
		{name: "forward from 0 again", c: bob, req: fwd(0, 3), want: seqRange(1, 3), hasMore: true},
		{name: "backward again", c: bob, req: protocol.HistoryRequest{ConversationID: "alice", Count: 3}, want: seqRange(total, total-2), hasMore: true},
	}
	runHistoryCases(t, cases)

	// Paging forward to the end visits every message once, in order.
	var got []int64
	after := int64(0)
	for page := 0; ; page++ {
		if page > total {
			t.Fatal("forward paging does not end")
		}
		var r protocol.HistoryReply
		if err := bob.Call(protocol.TypeHistory, fwd(after, 40), &r); err != nil {
			t.Fatal(err)
		}
		got = append(got, seqsOf(r.Messages)...)
		if !r.HasMore {
			break
		}
		after = r.Messages[len(r.Messages)-1].ConversationSeq
	}
	if !slices.Equal(got, seqRange(1, total)) {
		t.Fatalf("forward paging visited %v", got)
	}
}

// TestGroupHistoryForward: a member that joined later sees, in both
// directions, only the messages after its join; one that left sees none.
func TestGroupHistoryForward(t *testing.T) {
	s := testkit.Start(t, nil)
	alice, bob, carol, dave := member(t, s, "alice"), member(t, s, "bob"), member(t, s, "carol"), member(t, s, "dave")
	mustOK(t, "create", alice.Call(protocol.TypeGroupCreate, protocol.GroupCreateRequest{GroupID: "g", Name: "G", Members: []string{"bob", "carol"}, JoinMode: joinMode(protocol.JoinModeAny)}, nil))
	sent := 0
	send := func(n int) {
		t.Helper()
		for range n {
			sent++
			_, err := sendGroup(t, alice, "g", fmt.Sprint("m", sent), "hi", nil)
			mustOK(t, "send", err)
		}
	}
	send(3) // 1..3: before dave
	mustOK(t, "join", dave.Call(protocol.TypeGroupJoin, protocol.GroupRequest{GroupID: "g"}, nil))
	send(3) // 4..6
	mustOK(t, "leave", carol.Call(protocol.TypeGroupLeave, protocol.GroupRequest{GroupID: "g"}, nil))
	send(1) // 7: after carol left

	fwd := func(c *testkit.Client, after int64, count int) historyCase {
		return historyCase{c: c, req: protocol.HistoryRequest{ConversationID: "g", ConversationType: protocol.ConversationGroup, AfterSeq: at(after), Count: count}}
	}
	back := func(c *testkit.Client, before int64, count int) historyCase {
		return historyCase{c: c, req: protocol.HistoryRequest{ConversationID: "g", ConversationType: protocol.ConversationGroup, BeforeSeq: before, Count: count}}
	}
	with := func(tc historyCase, name string, want []int64, hasMore bool) historyCase {
		tc.name, tc.want, tc.hasMore = name, want, hasMore
		return tc
	}
	fails := func(tc historyCase, name string, code protocol.Code) historyCase {
		tc.name, tc.code = name, code
		return tc
	}
	runHistoryCases(t, []historyCase{
		with(fwd(dave, 0, 0), "late member forward from 0", seqRange(4, 7), false),
		with(fwd(dave, 0, 2), "late member forward, first page", seqRange(4, 5), true),
		with(fwd(dave, 2, 2), "late member forward from before its join", seqRange(4, 5), true),
		with(fwd(dave, 5, 2), "late member forward, last page", seqRange(6, 7), false),
		with(fwd(dave, 7, 2), "late member forward after the newest", []int64{}, false),
		with(back(dave, 0, 0), "late member backward", seqRange(7, 4), false),
		with(back(dave, 0, 3), "late member backward, first page", seqRange(7, 5), true),
		with(back(dave, 5, 3), "late member backward, last page", []int64{4}, false),
		with(back(dave, 4, 3), "late member backward before its join", []int64{}, false),
		with(fwd(bob, 0, 3), "first member forward from 0", seqRange(1, 3), true),
		with(back(bob, 0, 0), "first member backward", seqRange(7, 1), false),
		fails(fwd(carol, 0, 0), "left member forward", protocol.CodeNotGroupMember),
		fails(back(carol, 0, 0), "left member backward", protocol.CodeNotGroupMember),
		fails(historyCase{c: dave, req: protocol.HistoryRequest{ConversationID: "g", ConversationType: protocol.ConversationGroup, BeforeSeq: 6, AfterSeq: at(4)}}, "both", protocol.CodeInvalidArgument),
		with(fwd(dave, 0, 0), "late member forward after the failure", seqRange(4, 7), false),
	})
}
