// Package storetest is the contract suite of im.Store: every implementation
// runs it from its own tests, so that all of them behave the same.
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, dir string) im.Store {
//			s, err := sqlstore.Open(t.Context(), sqlstore.Config{Path: filepath.Join(dir, "herald.db")}, nil)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

// Opener opens the store whose data lives under dir. Run gives every subtest
// a fresh, empty dir; opening the same dir again after the previous store was
// closed must show the same data, as after a restart. A backend that keeps no
// files (PostgreSQL) may derive a database or schema name from dir.
//
// Run closes every store it opens: an Opener must not close it itself (Close
// is called once).
type Opener func(t *testing.T, dir string) im.Store

// Run runs the contract suite against the stores open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Apps", testApps},
		{"EmptyBatch", testEmptyBatch},
		{"SeqContiguous", testSeqContiguous},
		{"RoundTrip", testRoundTrip},
		{"Dedup", testDedup},
		{"LargeBatch", testLargeBatch},
		{"Unread", testUnread},
		{"MarkRead", testMarkRead},
		{"PendingAndCursors", testPendingAndCursors},
		{"AppIsolation", testAppIsolation},
		{"ConversationPaging", testConversationPaging},
		{"MessagePaging", testMessagePaging},
		{"AtomicBatch", testAtomicBatch},
		{"Concurrent", testConcurrent},
		{"Users", testUsers},
		{"GroupMembership", testGroupMembership},
		{"GroupMessages", testGroupMessages},
		{"GroupFanouts", testGroupFanouts},
		{"GroupConvIDChecked", testGroupConvIDChecked},
		{"UnreadTotal", testUnreadTotal},
		{"GroupJoinRequests", testGroupJoinRequests},
		{"NotifyStatus", testNotifyStatus},
		{"PushRules", testPushRules},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newEnv(t, open))
		})
	}
}

// base is the creation time of the first test message. Times are compared
// at millisecond precision, the precision stores keep.
var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// env is one subtest's store, with the means to restart it and to make
// messages with unique, increasing IDs.
type env struct {
	t      *testing.T
	open   Opener
	dir    string
	s      im.Store
	mu     sync.Mutex // guards nextID
	nextID int64
}

func newEnv(t *testing.T, open Opener) *env {
	e := &env{t: t, open: open, dir: t.TempDir(), nextID: 1_000_000}
	e.s = open(t, e.dir)
	t.Cleanup(func() {
		if e.s != nil {
			if err := e.s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	})
	return e
}

// reopen closes the store and opens the same data again.
func (e *env) reopen() {
	e.t.Helper()
	err := e.s.Close()
	e.s = nil
	if err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	e.s = e.open(e.t, e.dir)
}

// app creates the apps with the given IDs.
func (e *env) app(ids ...string) {
	e.t.Helper()
	for _, id := range ids {
		a := im.App{ID: id, Name: "app " + id, Secret: "secret-" + id, AdminKey: "admin-" + id, CreatedAt: base}
		if err := e.s.CreateApp(e.t.Context(), a); err != nil {
			e.t.Fatalf("CreateApp(%q): %v", id, err)
		}
	}
}

// msg makes a peer message from → to in app with the given local ID and
// text. Its ContentHash digests the text, so equal texts are retries.
func (e *env) msg(app, from, to, localID, text string) *im.Message {
	e.mu.Lock()
	e.nextID++
	id := e.nextID
	e.mu.Unlock()
	h := sha256.Sum256([]byte(text))
	return &im.Message{
		AppID:       app,
		ID:          id,
		ConvID:      im.PeerConvID(from, to),
		ConvType:    0,
		Sender:      from,
		Recipient:   to,
		Type:        1,
		Text:        text,
		Priority:    2,
		LocalID:     localID,
		ContentHash: h[:],
		CreatedAt:   base.Add(time.Duration(id-1_000_000) * time.Millisecond),
	}
}

// append appends msgs as one batch and fails the test on error.
func (e *env) append(msgs ...*im.Message) []im.AppendResult {
	e.t.Helper()
	res, err := e.s.AppendMessages(e.t.Context(), msgs)
	if err != nil {
		e.t.Fatalf("AppendMessages: %v", err)
	}
	if len(res) != len(msgs) {
		e.t.Fatalf("AppendMessages: %d results for %d messages", len(res), len(msgs))
	}
	return res
}

// send appends n messages from → to, one per batch, with distinct local IDs.
func (e *env) send(app, from, to string, n int) []im.AppendResult {
	e.t.Helper()
	var res []im.AppendResult
	for range n {
		e.mu.Lock()
		l := fmt.Sprintf("l%d", e.nextID+1)
		e.mu.Unlock()
		res = append(res, e.append(e.msg(app, from, to, l, "hi "+l))...)
	}
	return res
}

// all returns every message of a conversation, ascending.
func (e *env) all(app, conv string) []im.Message {
	e.t.Helper()
	ms, err := e.s.MessagesAfter(e.t.Context(), app, conv, 0, 1<<20)
	if err != nil {
		e.t.Fatalf("MessagesAfter: %v", err)
	}
	return ms
}

// conv returns user's conversation, failing the test if there is none.
func (e *env) conv(app, user, conv string) im.Conversation {
	e.t.Helper()
	c, err := e.s.Conversation(e.t.Context(), app, user, conv)
	if err != nil {
		e.t.Fatalf("Conversation(%s, %s, %s): %v", app, user, conv, err)
	}
	return c
}

// seqs returns the Seq of each message.
func seqs(ms []im.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

// span returns from, from+1, ..., to (descending when to < from).
func span(from, to int64) []int64 {
	var out []int64
	step := int64(1)
	if to < from {
		step = -1
	}
	for v := from; ; v += step {
		out = append(out, v)
		if v == to {
			return out
		}
	}
}

// sameMessage reports how got differs from want (empty when equal). Data
// compares by bytes (nil equals empty), PushConfig by content (nil only
// equals nil), CreatedAt at millisecond precision.
func sameMessage(want *im.Message, got im.Message) string {
	w := *want
	w.CreatedAt = time.UnixMilli(w.CreatedAt.UnixMilli())
	var diffs []string
	check := func(field string, ok bool, w, g any) {
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s = %#v, want %#v", field, g, w))
		}
	}
	check("AppID", got.AppID == w.AppID, w.AppID, got.AppID)
	check("ID", got.ID == w.ID, w.ID, got.ID)
	check("ConvID", got.ConvID == w.ConvID, w.ConvID, got.ConvID)
	check("ConvType", got.ConvType == w.ConvType, w.ConvType, got.ConvType)
	check("Seq", got.Seq == w.Seq, w.Seq, got.Seq)
	check("Sender", got.Sender == w.Sender, w.Sender, got.Sender)
	check("Recipient", got.Recipient == w.Recipient, w.Recipient, got.Recipient)
	check("Type", got.Type == w.Type, w.Type, got.Type)
	check("SubType", got.SubType == w.SubType, w.SubType, got.SubType)
	check("Text", got.Text == w.Text, w.Text, got.Text)
	check("Data", bytes.Equal(got.Data, w.Data), w.Data, got.Data)
	check("SearchedContent", got.SearchedContent == w.SearchedContent, w.SearchedContent, got.SearchedContent)
	check("ExtendedData", got.ExtendedData == w.ExtendedData, w.ExtendedData, got.ExtendedData)
	check("Priority", got.Priority == w.Priority, w.Priority, got.Priority)
	check("LocalID", got.LocalID == w.LocalID, w.LocalID, got.LocalID)
	check("ContentHash", bytes.Equal(got.ContentHash, w.ContentHash), w.ContentHash, got.ContentHash)
	check("PushConfig", (got.PushConfig == nil) == (w.PushConfig == nil) && (w.PushConfig == nil || *got.PushConfig == *w.PushConfig),
		w.PushConfig, got.PushConfig)
	check("CreatedAt", got.CreatedAt.Equal(w.CreatedAt), w.CreatedAt, got.CreatedAt)
	return strings.Join(diffs, "; ")
}

func testApps(t *testing.T, e *env) {
	ctx := t.Context()
	if err := e.s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	want := im.App{ID: "a1", Name: "Chat", Secret: "s3cret", AdminKey: "k", CreatedAt: base.Add(1500 * time.Microsecond)}
	if err := e.s.CreateApp(ctx, want); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	if err := e.s.CreateApp(ctx, im.App{ID: "a1", Name: "other", CreatedAt: base}); !errors.Is(err, im.ErrConflict) {
		t.Errorf("CreateApp of an existing ID: err = %v, want ErrConflict", err)
	}
	got, err := e.s.App(ctx, "a1")
	if err != nil {
		t.Fatalf("App: %v", err)
	}
	if got.ID != want.ID || got.Name != want.Name || got.Secret != want.Secret ||
		got.AdminKey != want.AdminKey || !got.CreatedAt.Equal(base.Add(time.Millisecond)) {
		t.Errorf("App = %+v, want %+v (CreatedAt at ms precision)", got, want)
	}
	if _, err := e.s.App(ctx, "nope"); !errors.Is(err, im.ErrNotFound) {
		t.Errorf("App of an unknown ID: err = %v, want ErrNotFound", err)
	}
	e.reopen()
	if _, err := e.s.App(ctx, "a1"); err != nil {
		t.Errorf("App after reopen: %v", err)
	}
}

func testEmptyBatch(t *testing.T, e *env) {
	res, err := e.s.AppendMessages(t.Context(), nil)
	if err != nil || len(res) != 0 {
		t.Errorf("AppendMessages(nil) = %v, %v; want no results and no error", res, err)
	}
}

// testSeqContiguous: seqs count from 1 per conversation without gaps, over
// batches of any size, interleaved conversations, and restarts.
func testSeqContiguous(t *testing.T, e *env) {
	e.app("a")
	convs := [][2]string{{"alice", "bob"}, {"bob", "carol"}, {"carol", "alice"}}
	next := map[string]int64{}
	batch := func(size int) {
		t.Helper()
		var msgs []*im.Message
		for i := range size {
			p := convs[i%len(convs)]
			from, to := p[0], p[1]
			if i%2 == 1 {
				from, to = to, from
			}
			msgs = append(msgs, e.msg("a", from, to, "", "x"))
		}
		for i, r := range e.append(msgs...) {
			next[msgs[i].ConvID]++
			if r.Seq != next[msgs[i].ConvID] || r.ID != msgs[i].ID || r.Duplicate || r.Conflict {
				t.Fatalf("batch of %d, message %d: result %+v, want Seq %d ID %d", size, i, r, next[msgs[i].ConvID], msgs[i].ID)
			}
		}
	}
	for _, size := range []int{1, 2, 7, 50, 3} {
		batch(size)
	}
	e.reopen()
	for _, size := range []int{1, 5, 40} {
		batch(size)
	}
	e.reopen()
	batch(4)

	for _, p := range convs {
		conv := im.PeerConvID(p[0], p[1])
		got := seqs(e.all("a", conv))
		if want := span(1, next[conv]); !slices.Equal(got, want) {
			t.Errorf("%s: seqs %v, want %v", conv, got, want)
		}
		c := e.conv("a", p[0], conv)
		if c.LastSeq != next[conv] {
			t.Errorf("%s: conversation LastSeq %d, want %d", conv, c.LastSeq, next[conv])
		}
	}
}

// testRoundTrip: every field comes back as stored, binary bytes exactly.
func testRoundTrip(t *testing.T, e *env) {
	e.app("a")
	tests := []struct {
		name string
		edit func(m *im.Message)
	}{
		{"text", func(m *im.Message) { m.Text = "héllo, 世界 👋\n\"quoted\" 'single' \x00 nul" }},
		{"binary with zero bytes", func(m *im.Message) {
			m.Type, m.Text, m.Data = 200, "", []byte{0, 1, 2, 0, 0, 255, 0xfe, 0}
		}},
		{"only zero bytes", func(m *im.Message) { m.Type, m.Text, m.Data = 200, "", []byte{0, 0, 0} }},
		{"every field", func(m *im.Message) {
			m.ConvType = 0
			m.Type, m.SubType, m.Priority = 2, 7, 3
			m.Data = bytes.Repeat([]byte{0xab, 0x00}, 1000)
			m.SearchedContent = "search me"
			m.ExtendedData = `{"k":"v"}`
			m.PushConfig = &push.Content{Title: "t", Content: "c"}
			m.ContentHash = []byte{0, 9, 0, 9}
		}},
		{"no local ID", func(m *im.Message) { m.LocalID = "" }},
		{"no content hash", func(m *im.Message) { m.ContentHash = nil }},
		{"sub-millisecond time", func(m *im.Message) { m.CreatedAt = m.CreatedAt.Add(999 * time.Microsecond) }},
	}
	var sent []*im.Message
	for i, tt := range tests {
		m := e.msg("a", "alice", "bob", fmt.Sprintf("rt%d", i), "body")
		tt.edit(m)
		r := e.append(m)[0]
		m.Seq = r.Seq
		if want := time.UnixMilli(m.CreatedAt.UnixMilli()); !r.CreatedAt.Equal(want) {
			t.Errorf("%s: result CreatedAt %v, want %v", tt.name, r.CreatedAt, want)
		}
		sent = append(sent, m)
	}
	check := func(when string) {
		t.Helper()
		ctx := t.Context()
		after := e.all("a", sent[0].ConvID)
		before, err := e.s.MessagesBefore(ctx, "a", sent[0].ConvID, 0, 100)
		if err != nil {
			t.Fatalf("MessagesBefore: %v", err)
		}
		if len(after) != len(sent) || len(before) != len(sent) {
			t.Fatalf("%s: %d messages after, %d before, want %d", when, len(after), len(before), len(sent))
		}
		for i, tt := range tests {
			if d := sameMessage(sent[i], after[i]); d != "" {
				t.Errorf("%s: %s: MessagesAfter: %s", when, tt.name, d)
			}
			if d := sameMessage(sent[i], before[len(sent)-1-i]); d != "" {
				t.Errorf("%s: %s: MessagesBefore: %s", when, tt.name, d)
			}
		}
		for _, user := range []string{"alice", "bob"} {
			c := e.conv("a", user, sent[0].ConvID)
			if c.LastMsg == nil {
				t.Fatalf("%s: %s's conversation has no LastMsg", when, user)
			}
			if d := sameMessage(sent[len(sent)-1], *c.LastMsg); d != "" {
				t.Errorf("%s: %s's LastMsg: %s", when, user, d)
			}
		}
	}
	check("before reopen")
	e.reopen()
	check("after reopen")
}

// testDedup: a sender's local ID is stored once; a retry is a Duplicate, a
// reuse with other content a Conflict, and neither writes anything.
func testDedup(t *testing.T, e0 *env) {
	type spec struct {
		app, from, to, local, text string
		want                       string // "new", "dup" or "conflict"
		of                         int    // for dup and conflict: the index of the spec stored before
	}
	tests := []struct {
		name    string
		batches [][]spec
		reopen  bool // reopen between batches
	}{
		{name: "retry in a later batch", batches: [][]spec{
			{{"a", "alice", "bob", "L1", "hello", "new", 0}},
			{{"a", "alice", "bob", "L1", "hello", "dup", 0}, {"a", "alice", "bob", "L2", "next", "new", 0}},
		}},
		{name: "retry after restart", reopen: true, batches: [][]spec{
			{{"a", "alice", "bob", "L1", "hello", "new", 0}},
			{{"a", "alice", "bob", "L1", "hello", "dup", 0}},
		}},
		{name: "reuse with other content", batches: [][]spec{
			{{"a", "alice", "bob", "L1", "hello", "new", 0}},
			{{"a", "alice", "bob", "L1", "bye", "conflict", 0}},
		}},
		{name: "retry inside a batch: first wins", batches: [][]spec{
			{{"a", "alice", "bob", "L1", "hello", "new", 0}, {"a", "alice", "bob", "L1", "hello", "dup", 0}, {"a", "alice", "bob", "L3", "x", "new", 0}},
		}},
		{name: "reuse inside a batch", batches: [][]spec{
			{{"a", "alice", "bob", "L1", "hello", "new", 0}, {"a", "alice", "bob", "L1", "other", "conflict", 0}},
		}},
		{name: "retry of a duplicate inside a batch", batches: [][]spec{
			{{"a", "alice", "bob", "L1", "hello", "new", 0}},
			{{"a", "alice", "bob", "L1", "hello", "dup", 0}, {"a", "alice", "bob", "L1", "hello", "dup", 0}},
		}},
		{name: "no local ID is never deduplicated", batches: [][]spec{
			{{"a", "alice", "bob", "", "hello", "new", 0}, {"a", "alice", "bob", "", "hello", "new", 0}},
			{{"a", "alice", "bob", "", "hello", "new", 0}},
		}},
		{name: "same local ID, other sender", batches: [][]spec{
			{{"a", "alice", "bob", "L1", "hello", "new", 0}, {"a", "bob", "alice", "L1", "hello", "new", 0}},
			{{"a", "carol", "bob", "L1", "hello", "new", 0}},
		}},
		{name: "same local ID, other recipient", batches: [][]spec{
			{{"a", "alice", "bob", "L1", "hello", "new", 0}},
			{{"a", "alice", "carol", "L1", "hello", "dup", 0}},
		}},
		{name: "same local ID, other app", batches: [][]spec{
			{{"a", "alice", "bob", "L1", "hello", "new", 0}, {"b", "alice", "bob", "L1", "hello", "new", 0}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, e0.open)
			e.app("a", "b")
			var specs []spec
			var msgs []*im.Message
			var results []im.AppendResult
			stored := map[[2]string]int{} // {app, conversation} → messages stored
			for bi, batch := range tt.batches {
				if bi > 0 && tt.reopen {
					e.reopen()
				}
				var ms []*im.Message
				for _, sp := range batch {
					ms = append(ms, e.msg(sp.app, sp.from, sp.to, sp.local, sp.text))
				}
				res := e.append(ms...)
				for i, sp := range batch {
					r, idx := res[i], len(specs)
					switch sp.want {
					case "new":
						k := [2]string{sp.app, ms[i].ConvID}
						stored[k]++
						if r.Duplicate || r.Conflict || r.ID != ms[i].ID || r.Seq != int64(stored[k]) {
							t.Errorf("message %d: %+v, want new with ID %d Seq %d", idx, r, ms[i].ID, stored[k])
						}
					case "dup", "conflict":
						orig := results[sp.of]
						if r.Duplicate != (sp.want == "dup") || r.Conflict != (sp.want == "conflict") ||
							r.ID != orig.ID || r.Seq != orig.Seq || !r.CreatedAt.Equal(orig.CreatedAt) {
							t.Errorf("message %d: %+v, want %s of message %d %+v", idx, r, sp.want, sp.of, orig)
						}
					}
					specs, msgs, results = append(specs, sp), append(msgs, ms[i]), append(results, r)
				}
			}
			// Nothing but the new messages was written, with contiguous seqs,
			// and only they count as unread.
			for k, n := range stored {
				got := e.all(k[0], k[1])
				if !slices.Equal(seqs(got), span(1, int64(n))) {
					t.Errorf("%s: seqs %v, want 1..%d", k, seqs(got), n)
				}
				for _, m := range got {
					var want *im.Message
					for i, sp := range specs {
						if sp.want == "new" && msgs[i].ID == m.ID {
							want = msgs[i]
						}
					}
					if want == nil {
						t.Errorf("%s: stored message %d is not one of the new ones", k, m.ID)
					}
				}
			}
		})
	}
}

// testLargeBatch: a batch of hundreds of messages in tens of conversations
// (more rows than one statement of a store that writes many rows per
// statement holds, whichever chunk size it picked below 200) is stored as
// the same messages one at a time would be, with local IDs reused inside
// the batch across its chunks and one stored before the batch.
func testLargeBatch(t *testing.T, e *env) {
	e.app("a")
	const convs, n = 70, 203 // 140 conversation rows, 203 message rows
	peer := func(i int) string { return fmt.Sprintf("bob%02d", i%convs) }
	before := e.append(e.msg("a", "alice", peer(0), "P", "stored before"))[0]

	type want struct {
		of      int // the message whose result this one reports; -1 the stored one
		dup     bool
		written bool
	}
	var batch []*im.Message
	var wants []want
	for i := range n {
		local, text := fmt.Sprintf("L%d", i), fmt.Sprintf("text %d", i)
		w := want{of: i, written: true}
		switch i {
		case 100: // a retry of message 10, in another chunk
			local, text, w = "L10", "text 10", want{of: 10, dup: true}
		case 150: // message 20's local ID with other content
			local, w = "L20", want{of: 20}
		case 190: // a retry of the message stored before the batch
			local, text, w = "P", "stored before", want{of: -1, dup: true}
		case 191: // a retry of that retry
			local, text, w = "P", "stored before", want{of: -1, dup: true}
		}
		batch = append(batch, e.msg("a", "alice", peer(i), local, text))
		wants = append(wants, w)
	}
	res := e.append(batch...)

	perConv := map[string][]*im.Message{} // peer → messages written, in order
	for i, w := range wants {
		r := res[i]
		switch {
		case w.written:
			perConv[peer(i)] = append(perConv[peer(i)], batch[i])
			if r.Duplicate || r.Conflict || r.ID != batch[i].ID {
				t.Errorf("message %d: %+v, want new with ID %d", i, r, batch[i].ID)
			}
		default:
			orig := before
			if w.of >= 0 {
				orig = res[w.of]
			}
			if r.Duplicate != w.dup || r.Conflict == w.dup || r.ID != orig.ID || r.Seq != orig.Seq || !r.CreatedAt.Equal(orig.CreatedAt) {
				t.Errorf("message %d: %+v, want dup %v of %+v", i, r, w.dup, orig)
			}
		}
	}
	for i := range convs {
		p := peer(i)
		conv := im.PeerConvID("alice", p)
		first := int64(1)
		if i == 0 {
			first = 2 // after the message stored before
		}
		wantMsgs := perConv[p]
		got := e.all("a", conv)
		if i == 0 {
			got = got[1:]
		}
		if len(got) != len(wantMsgs) {
			t.Fatalf("%s: %d messages stored, want %d", conv, len(got), len(wantMsgs))
		}
		for j, m := range got {
			if m.Seq != first+int64(j) {
				t.Errorf("%s: message %d has seq %d, want %d", conv, j, m.Seq, first+int64(j))
			}
			w := *wantMsgs[j]
			w.Seq = first + int64(j) // AppendMessages leaves msgs as they were
			if d := sameMessage(&w, m); d != "" {
				t.Errorf("%s: message %d: %s", conv, j, d)
			}
			if res := res[slices.Index(batch, wantMsgs[j])]; res.Seq != m.Seq {
				t.Errorf("%s: message %d stored at seq %d, reported %d", conv, j, m.Seq, res.Seq)
			}
		}
		last := first + int64(len(wantMsgs)) - 1
		lastID := wantMsgs[len(wantMsgs)-1].ID
		if c := e.conv("a", p, conv); c.LastSeq != last || c.Unread != last || c.OrderKey != lastID {
			t.Errorf("%s's conversation %+v, want LastSeq %d Unread %d OrderKey %d", p, c, last, last, lastID)
		}
		if c := e.conv("a", "alice", conv); c.LastSeq != last || c.Unread != 0 || c.OrderKey != lastID {
			t.Errorf("alice's conversation with %s %+v, want LastSeq %d Unread 0 OrderKey %d", p, c, last, lastID)
		}
	}
	// The next message of a conversation follows the batch's last.
	conv0 := im.PeerConvID("alice", peer(0))
	next := int64(len(e.all("a", conv0)) + 1)
	if r := e.append(e.msg("a", peer(0), "alice", "next", "next"))[0]; r.Seq != next {
		t.Errorf("the message after the batch has seq %d, want %d", r.Seq, next)
	}
}

// testUnread: a message counts as unread for its recipient only.
func testUnread(t *testing.T, e *env) {
	e.app("a")
	ab := im.PeerConvID("alice", "bob")
	e.send("a", "alice", "bob", 3)
	res := e.send("a", "bob", "alice", 1)
	last := res[0]

	tests := []struct {
		user, peer string
		unread     int64
	}{
		{"alice", "bob", 1},
		{"bob", "alice", 3},
	}
	check := func(when string) {
		t.Helper()
		for _, tt := range tests {
			c := e.conv("a", tt.user, ab)
			if c.ConvID != ab || c.ConvType != 0 || c.PeerID != tt.peer || c.LastSeq != 4 ||
				c.Unread != tt.unread || c.OrderKey != last.ID {
				t.Errorf("%s: %s's conversation %+v, want ConvID %s PeerID %s LastSeq 4 Unread %d OrderKey %d",
					when, tt.user, c, ab, tt.peer, tt.unread, last.ID)
			}
			if c.LastMsg == nil || c.LastMsg.ID != last.ID || c.LastMsg.Seq != 4 || c.LastMsg.Sender != "bob" {
				t.Errorf("%s: %s's LastMsg %+v, want ID %d Seq 4 from bob", when, tt.user, c.LastMsg, last.ID)
			}
		}
	}
	check("before reopen")
	e.reopen()
	check("after reopen")

	// A batch between the same pair counts every message once.
	var batch []*im.Message
	for i := range 10 {
		from, to := "alice", "bob"
		if i%3 == 0 {
			from, to = to, from
		}
		batch = append(batch, e.msg("a", from, to, "", "b"))
	}
	e.append(batch...)
	if c := e.conv("a", "bob", ab); c.Unread != 3+6 || c.LastSeq != 14 {
		t.Errorf("after a mixed batch: bob's Unread %d LastSeq %d, want 9 and 14", c.Unread, c.LastSeq)
	}
	if c := e.conv("a", "alice", ab); c.Unread != 1+4 || c.LastSeq != 14 {
		t.Errorf("after a mixed batch: alice's Unread %d LastSeq %d, want 5 and 14", c.Unread, c.LastSeq)
	}

	// Messages to oneself are never unread.
	e.send("a", "alice", "alice", 2)
	if c := e.conv("a", "alice", im.PeerConvID("alice", "alice")); c.Unread != 0 || c.LastSeq != 2 || c.PeerID != "alice" {
		t.Errorf("self conversation %+v, want Unread 0 LastSeq 2 PeerID alice", c)
	}
}

// testMarkRead: the read position moves forward only, and the unread count
// left is the number of others' messages after it.
func testMarkRead(t *testing.T, e *env) {
	e.app("a")
	ab := im.PeerConvID("alice", "bob")
	e.send("a", "alice", "bob", 5) // seqs 1-5
	e.send("a", "bob", "alice", 1) // seq 6
	e.send("a", "alice", "bob", 1) // seq 7

	steps := []struct {
		name       string
		user       string
		seq        int64
		sendBefore int // messages alice → bob appended before the step
		want       int64
	}{
		{name: "partial", user: "bob", seq: 2, want: 4},                    // alice's 3, 4, 5, 7
		{name: "backwards is ignored", user: "bob", seq: 1, want: 4},       // stays at 2
		{name: "over own message", user: "bob", seq: 6, want: 1},           // alice's 7
		{name: "zero means last", user: "bob", seq: 0, want: 0},            // all
		{name: "again", user: "bob", seq: 0, want: 0},                      //
		{name: "new message", user: "bob", seq: 7, sendBefore: 2, want: 2}, // 8, 9
		{name: "beyond last is clamped", user: "bob", seq: 100, want: 0},   // reads up to 9 only
		{name: "after clamp", user: "bob", seq: 9, sendBefore: 1, want: 1}, // 10 still unread
		{name: "the sender", user: "alice", seq: 3, want: 1},               // bob's 6
		{name: "the sender, all", user: "alice", seq: 0, want: 0},
	}
	for _, st := range steps {
		e.send("a", "alice", "bob", st.sendBefore)
		got, err := e.s.MarkRead(t.Context(), "a", st.user, ab, st.seq)
		if err != nil {
			t.Fatalf("%s: MarkRead: %v", st.name, err)
		}
		if got != st.want {
			t.Errorf("%s: MarkRead(%s, %d) = %d, want %d", st.name, st.user, st.seq, got, st.want)
		}
		if c := e.conv("a", st.user, ab); c.Unread != st.want {
			t.Errorf("%s: Conversation.Unread = %d, want %d", st.name, c.Unread, st.want)
		}
	}
	// The read position survives a restart: new messages count from it.
	e.reopen()
	e.send("a", "alice", "bob", 1)
	if c := e.conv("a", "bob", ab); c.Unread != 2 {
		t.Errorf("after reopen and one more: bob's Unread %d, want 2", c.Unread)
	}
	if n, err := e.s.MarkRead(t.Context(), "a", "bob", ab, 1); err != nil || n != 2 {
		t.Errorf("after reopen, MarkRead backwards = %d, %v; want 2", n, err)
	}

	for _, tt := range []struct{ name, user, conv string }{
		{"unknown conversation", "bob", im.PeerConvID("bob", "zed")},
		{"not a participant", "carol", ab},
	} {
		if _, err := e.s.MarkRead(t.Context(), "a", tt.user, tt.conv, 0); !errors.Is(err, im.ErrNotFound) {
			t.Errorf("MarkRead, %s: err = %v, want ErrNotFound", tt.name, err)
		}
		if _, err := e.s.Conversation(t.Context(), "a", tt.user, tt.conv); !errors.Is(err, im.ErrNotFound) {
			t.Errorf("Conversation, %s: err = %v, want ErrNotFound", tt.name, err)
		}
	}
}

// testPendingAndCursors: a conversation is pending for a device until its
// cursor reaches the last seq; cursors never move back.
func testPendingAndCursors(t *testing.T, e *env) {
	e.app("a")
	ctx := t.Context()
	ab, bc := im.PeerConvID("alice", "bob"), im.PeerConvID("bob", "carol")
	e.send("a", "alice", "bob", 2)
	e.send("a", "carol", "bob", 3)

	pending := func(user, device string) []im.Pending {
		t.Helper()
		ps, err := e.s.Pending(ctx, "a", user, device)
		if err != nil {
			t.Fatalf("Pending: %v", err)
		}
		slices.SortFunc(ps, func(a, b im.Pending) int { return strings.Compare(a.ConvID, b.ConvID) })
		return ps
	}
	save := func(cs ...im.Cursor) {
		t.Helper()
		if err := e.s.SaveCursors(ctx, cs); err != nil {
			t.Fatalf("SaveCursors: %v", err)
		}
	}
	cur := func(user, device, conv string, seq int64) im.Cursor {
		return im.Cursor{AppID: "a", UserID: user, DeviceID: device, ConvID: conv, Seq: seq}
	}
	check := func(step string, got, want []im.Pending) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: Pending = %+v, want %+v", step, got, want)
		}
	}
	pAB := im.Pending{ConvID: ab, PeerID: "alice", LastSeq: 2}
	pBC := im.Pending{ConvID: bc, PeerID: "carol", LastSeq: 3}
	check("no cursors", pending("bob", "phone"), []im.Pending{pAB, pBC})
	// The sender's devices have the conversation pending too: the sender's
	// other devices must receive what it sent.
	check("sender", pending("alice", "laptop"), []im.Pending{{ConvID: ab, PeerID: "bob", LastSeq: 2}})

	save(cur("bob", "phone", ab, 2), cur("bob", "phone", bc, 1))
	check("acked", pending("bob", "phone"), []im.Pending{{ConvID: bc, PeerID: "carol", Cursor: 1, LastSeq: 3}})
	check("other device", pending("bob", "tablet"), []im.Pending{pAB, pBC})

	save(cur("bob", "phone", ab, 1), cur("bob", "phone", bc, 0))
	check("cursors do not move back", pending("bob", "phone"), []im.Pending{{ConvID: bc, PeerID: "carol", Cursor: 1, LastSeq: 3}})

	// Within one call, the highest position wins whatever the order.
	save(cur("bob", "phone", bc, 3), cur("bob", "phone", bc, 2))
	check("all acked", pending("bob", "phone"), nil)

	e.send("a", "alice", "bob", 1)
	e.reopen()
	check("new message after reopen", pending("bob", "phone"), []im.Pending{{ConvID: ab, PeerID: "alice", Cursor: 2, LastSeq: 3}})
	check("unknown user", pending("zed", "phone"), nil)
	if err := e.s.SaveCursors(ctx, nil); err != nil {
		t.Errorf("SaveCursors(nil): %v", err)
	}
}

// testAppIsolation: the same user and conversation IDs in two apps are
// unrelated.
func testAppIsolation(t *testing.T, e *env) {
	e.app("a1", "a2")
	ctx := t.Context()
	ab := im.PeerConvID("alice", "bob")
	var batch1, batch2 []*im.Message
	for i := range 3 {
		batch1 = append(batch1, e.msg("a1", "alice", "bob", fmt.Sprintf("L%d", i), "one"))
	}
	batch2 = append(batch2, e.msg("a2", "alice", "bob", "L0", "two"))
	// Mixed in one batch, and a local ID of a1 reused in a2 with other content.
	res := e.append(append(batch1, batch2...)...)
	for i, r := range res {
		if r.Duplicate || r.Conflict {
			t.Errorf("message %d: %+v, want new", i, r)
		}
	}
	if res[3].Seq != 1 {
		t.Errorf("first message of a2: Seq %d, want 1", res[3].Seq)
	}

	if got := e.all("a1", ab); len(got) != 3 || got[0].AppID != "a1" {
		t.Errorf("a1 has %d messages, want 3 of a1", len(got))
	}
	if got := e.all("a2", ab); len(got) != 1 || got[0].Text != "two" || got[0].AppID != "a2" {
		t.Errorf("a2 has %+v, want only its own message", got)
	}
	if c := e.conv("a2", "bob", ab); c.Unread != 1 || c.LastSeq != 1 || c.LastMsg == nil || c.LastMsg.Text != "two" {
		t.Errorf("a2 bob's conversation %+v, want Unread 1 LastSeq 1 and a2's message", c)
	}
	if n, err := e.s.MarkRead(ctx, "a1", "bob", ab, 0); err != nil || n != 0 {
		t.Fatalf("MarkRead a1: %d, %v", n, err)
	}
	if c := e.conv("a2", "bob", ab); c.Unread != 1 {
		t.Errorf("MarkRead in a1 changed a2: Unread %d, want 1", c.Unread)
	}
	if err := e.s.SaveCursors(ctx, []im.Cursor{{AppID: "a1", UserID: "bob", DeviceID: "d", ConvID: ab, Seq: 3}}); err != nil {
		t.Fatal(err)
	}
	if ps, err := e.s.Pending(ctx, "a2", "bob", "d"); err != nil || len(ps) != 1 || ps[0].Cursor != 0 {
		t.Errorf("a2 Pending after a1 cursor = %+v, %v; want one with cursor 0", ps, err)
	}
	if ps, err := e.s.Pending(ctx, "a1", "bob", "d"); err != nil || len(ps) != 0 {
		t.Errorf("a1 Pending = %+v, %v; want none", ps, err)
	}
	cs, err := e.s.Conversations(ctx, "a2", "bob", 0, 10)
	if err != nil || len(cs) != 1 || cs[0].LastMsg == nil || cs[0].LastMsg.AppID != "a2" {
		t.Errorf("a2 Conversations = %+v, %v; want one of a2", cs, err)
	}
	if cs, err := e.s.Conversations(ctx, "a3", "bob", 0, 10); err != nil || len(cs) != 0 {
		t.Errorf("Conversations of an app without data = %+v, %v; want none", cs, err)
	}
	// A retry in a1 is a duplicate of a1's message only.
	if r := e.append(e.msg("a1", "alice", "bob", "L0", "one"))[0]; !r.Duplicate || r.ID != res[0].ID {
		t.Errorf("retry in a1: %+v, want duplicate of %d", r, res[0].ID)
	}
}

// testConversationPaging: the list is newest first by OrderKey and pages
// with before.
func testConversationPaging(t *testing.T, e *env) {
	e.app("a")
	ctx := t.Context()
	peers := []string{"p0", "p1", "p2", "p3", "p4", "p5", "p6"}
	for _, p := range peers {
		e.send("a", p, "u", 1)
	}
	page := func(before int64, limit int) []string {
		t.Helper()
		cs, err := e.s.Conversations(ctx, "a", "u", before, limit)
		if err != nil {
			t.Fatalf("Conversations: %v", err)
		}
		var peers []string
		for i, c := range cs {
			peers = append(peers, c.PeerID)
			if c.LastMsg == nil || c.LastMsg.ID != c.OrderKey || c.Unread < 1 {
				t.Errorf("conversation with %s: %+v, want LastMsg with ID = OrderKey and some unread", c.PeerID, c)
			}
			if i > 0 && cs[i-1].OrderKey <= c.OrderKey {
				t.Errorf("conversations not newest first: %d then %d", cs[i-1].OrderKey, c.OrderKey)
			}
			if c.OrderKey >= before && before != 0 {
				t.Errorf("OrderKey %d not below before %d", c.OrderKey, before)
			}
		}
		return peers
	}
	walk := func(limit int) [][]string {
		t.Helper()
		var pages [][]string
		var before int64
		for range 10 {
			cs, err := e.s.Conversations(ctx, "a", "u", before, limit)
			if err != nil {
				t.Fatalf("Conversations: %v", err)
			}
			if len(cs) == 0 {
				return pages
			}
			pages = append(pages, page(before, limit))
			before = cs[len(cs)-1].OrderKey
		}
		t.Fatal("paging does not end")
		return nil
	}
	want := [][]string{{"p6", "p5", "p4"}, {"p3", "p2", "p1"}, {"p0"}}
	if got := walk(3); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pages %v, want %v", got, want)
	}
	if got := page(0, 100); len(got) != len(peers) {
		t.Errorf("before 0: %d conversations, want all %d", len(got), len(peers))
	}
	// A new message moves its conversation to the front.
	e.send("a", "p2", "u", 1)
	e.reopen()
	cs, err := e.s.Conversations(ctx, "a", "u", 0, 2)
	if err != nil || len(cs) != 2 || cs[0].PeerID != "p2" || cs[0].Unread != 2 || cs[1].PeerID != "p6" {
		t.Errorf("after a new message from p2: %+v, %v; want p2 (2 unread) then p6", cs, err)
	}
	// Each participant sees the conversation under the other's ID.
	if got := page(0, 100); len(got) != len(peers) {
		t.Errorf("u has %d conversations, want %d", len(got), len(peers))
	}
	pc, err := e.s.Conversations(ctx, "a", "p2", 0, 10)
	if err != nil || len(pc) != 1 || pc[0].PeerID != "u" || pc[0].Unread != 0 || pc[0].LastSeq != 2 {
		t.Errorf("p2's list: %+v, %v; want one conversation with u, none unread, LastSeq 2", pc, err)
	}
}

// testMessagePaging: MessagesAfter ascends, MessagesBefore descends, both
// by seq and bounded by limit.
func testMessagePaging(t *testing.T, e *env) {
	e.app("a")
	ab := im.PeerConvID("alice", "bob")
	e.send("a", "alice", "bob", 10)
	tests := []struct {
		name   string
		after  bool
		seq    int64
		limit  int
		expect []int64
	}{
		{"after 0", true, 0, 4, span(1, 4)},
		{"after 4", true, 4, 4, span(5, 8)},
		{"after 8", true, 8, 4, span(9, 10)},
		{"after last", true, 10, 4, nil},
		{"after, limit above count", true, 0, 1000, span(1, 10)},
		{"before 0 means newest", false, 0, 4, span(10, 7)},
		{"before 7", false, 7, 4, span(6, 3)},
		{"before 3", false, 3, 4, span(2, 1)},
		{"before 1", false, 1, 4, nil},
		{"before, beyond last", false, 100, 2, span(10, 9)},
	}
	for _, tt := range tests {
		var got []im.Message
		var err error
		if tt.after {
			got, err = e.s.MessagesAfter(t.Context(), "a", ab, tt.seq, tt.limit)
		} else {
			got, err = e.s.MessagesBefore(t.Context(), "a", ab, tt.seq, tt.limit)
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !slices.Equal(seqs(got), tt.expect) {
			t.Errorf("%s: seqs %v, want %v", tt.name, seqs(got), tt.expect)
		}
	}
	for _, conv := range []string{im.PeerConvID("alice", "zed"), "nonsense"} {
		if got, err := e.s.MessagesAfter(t.Context(), "a", conv, 0, 10); err != nil || len(got) != 0 {
			t.Errorf("MessagesAfter of unknown %q = %v, %v; want none", conv, got, err)
		}
		if got, err := e.s.MessagesBefore(t.Context(), "a", conv, 0, 10); err != nil || len(got) != 0 {
			t.Errorf("MessagesBefore of unknown %q = %v, %v; want none", conv, got, err)
		}
	}
}

// testAtomicBatch: a batch that fails stores nothing and consumes no seq;
// rows of an app that does not exist cannot be written.
func testAtomicBatch(t *testing.T, e *env) {
	e.app("a")
	ctx := t.Context()
	ab := im.PeerConvID("alice", "bob")
	e.send("a", "alice", "bob", 2)

	bad := []struct {
		name     string
		msgs     []*im.Message
		notFound bool
	}{
		{"unknown app", []*im.Message{
			e.msg("a", "alice", "bob", "ok1", "x"), e.msg("a", "bob", "alice", "", "y"), e.msg("nope", "alice", "bob", "", "z"),
		}, true},
		{"missing ID", []*im.Message{
			e.msg("a", "alice", "bob", "ok2", "x"), func() *im.Message { m := e.msg("a", "alice", "bob", "", "z"); m.ID = 0; return m }(),
		}, false},
		{"conversation key does not match the participants", []*im.Message{
			e.msg("a", "alice", "bob", "ok3", "x"), func() *im.Message { m := e.msg("a", "alice", "bob", "", "z"); m.Recipient = "carol"; return m }(),
		}, false},
	}
	for _, tt := range bad {
		res, err := e.s.AppendMessages(ctx, tt.msgs)
		if err == nil {
			t.Errorf("%s: AppendMessages = %+v, want an error", tt.name, res)
			continue
		}
		if tt.notFound && !errors.Is(err, im.ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", tt.name, err)
		}
	}
	if err := e.s.SaveCursors(ctx, []im.Cursor{
		{AppID: "a", UserID: "bob", DeviceID: "d", ConvID: ab, Seq: 2},
		{AppID: "nope", UserID: "bob", DeviceID: "d", ConvID: ab, Seq: 1},
	}); !errors.Is(err, im.ErrNotFound) {
		t.Errorf("SaveCursors with an unknown app: err = %v, want ErrNotFound", err)
	}
	if ps, err := e.s.Pending(ctx, "a", "bob", "d"); err != nil || len(ps) != 1 || ps[0].Cursor != 0 {
		t.Errorf("a failed SaveCursors stored something: Pending = %+v, %v", ps, err)
	}

	if got := seqs(e.all("a", ab)); !slices.Equal(got, span(1, 2)) {
		t.Errorf("after failed batches: seqs %v, want 1 2", got)
	}
	if c := e.conv("a", "bob", ab); c.Unread != 2 || c.LastSeq != 2 {
		t.Errorf("after failed batches: bob's conversation %+v, want Unread 2 LastSeq 2", c)
	}
	// The local IDs of the failed batches are free, and seqs continue.
	res := e.append(e.msg("a", "alice", "bob", "ok1", "x"), e.msg("a", "alice", "bob", "ok2", "x"))
	if res[0].Seq != 3 || res[1].Seq != 4 || res[0].Duplicate || res[1].Duplicate {
		t.Errorf("after failed batches: %+v, want new messages with Seq 3 and 4", res)
	}
}

// testConcurrent: concurrent appends to the same conversations get unique,
// contiguous seqs, while readers read.
func testConcurrent(t *testing.T, e *env) {
	e.app("a")
	ctx := t.Context()
	const writers, batches, size = 6, 15, 8
	convs := []string{im.PeerConvID("alice", "bob"), im.PeerConvID("bob", "carol")}
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches+writers)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				var msgs []*im.Message
				for i := range size {
					from, to := "alice", "bob"
					if i%2 == 1 {
						from, to = "carol", "bob"
					}
					msgs = append(msgs, e.msg("a", from, to, fmt.Sprintf("w%d-b%d-%d", w, b, i), "c"))
				}
				if _, err := e.s.AppendMessages(ctx, msgs); err != nil {
					errs <- err
					return
				}
			}
		})
		wg.Go(func() {
			for range batches {
				if _, err := e.s.Conversations(ctx, "a", "bob", 0, 10); err != nil {
					errs <- err
					return
				}
				if _, err := e.s.MessagesBefore(ctx, "a", convs[0], 0, 20); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent: %v", err)
	}
	total := int64(writers * batches * size / 2)
	for _, conv := range convs {
		if got := seqs(e.all("a", conv)); !slices.Equal(got, span(1, total)) {
			t.Errorf("%s: %d messages, seqs not 1..%d: %v", conv, len(got), total, got)
		}
	}
	if c := e.conv("a", "bob", convs[0]); c.Unread != total || c.LastSeq != total {
		t.Errorf("bob's conversation with alice: %+v, want Unread and LastSeq %d", c, total)
	}
}
