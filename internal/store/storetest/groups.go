package storetest

import (
	"crypto/sha256"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

// gmsg makes a group message from a member of group.
func (e *env) gmsg(app, group, from, localID, text string) *im.Message {
	m := e.msg(app, from, "x", localID, text)
	m.ConvID, m.ConvType, m.Recipient = im.GroupConvID(group), 2, group
	h := sha256.Sum256([]byte(group + text))
	m.ContentHash = h[:]
	return m
}

func (e *env) group(app, id, owner string, members ...string) {
	e.t.Helper()
	ms := []im.GroupMember{{UserID: owner, Role: 1, JoinedAt: base}}
	for _, u := range members {
		ms = append(ms, im.GroupMember{UserID: u, Role: 3, JoinedAt: base})
	}
	if err := e.s.CreateGroup(e.t.Context(), im.Group{AppID: app, ID: id, Name: "group " + id, Owner: owner, CreatedAt: base}, ms); err != nil {
		e.t.Fatalf("CreateGroup(%s): %v", id, err)
	}
}

func (e *env) members(app, group string) []string {
	e.t.Helper()
	ms, err := e.s.GroupMembers(e.t.Context(), app, group, "", 0)
	if err != nil {
		e.t.Fatalf("GroupMembers: %v", err)
	}
	var us []string
	for _, m := range ms {
		us = append(us, m.UserID)
	}
	return us
}

func (e *env) pending(app, user, device string) map[string][2]int64 {
	e.t.Helper()
	ps, err := e.s.Pending(e.t.Context(), app, user, device)
	if err != nil {
		e.t.Fatalf("Pending: %v", err)
	}
	out := map[string][2]int64{}
	for _, p := range ps {
		out[p.ConvID] = [2]int64{p.Cursor, p.LastSeq}
	}
	return out
}

// testUsers: users are recorded once and known afterwards, per app.
func testUsers(t *testing.T, e *env) {
	e.app("a1", "a2")
	ctx := t.Context()
	for range 2 {
		if err := e.s.RecordUser(ctx, "a1", "alice"); err != nil {
			t.Fatal(err)
		}
	}
	e.reopen()
	unknown, err := e.s.UnknownUsers(ctx, "a1", []string{"bob", "alice", "carol"})
	if err != nil || !slices.Equal(unknown, []string{"bob", "carol"}) {
		t.Fatalf("UnknownUsers = %v, %v", unknown, err)
	}
	if unknown, _ := e.s.UnknownUsers(ctx, "a2", []string{"alice"}); len(unknown) != 1 {
		t.Fatalf("alice of a1 is known in a2: %v", unknown)
	}
}

// testGroupMembership: create, conflicts, members in order, roles, owner,
// removal, dismissal, a user's groups; all of it survives a reopen.
func testGroupMembership(t *testing.T, e *env) {
	e.app("a1", "a2")
	ctx := t.Context()
	e.group("a1", "g1", "alice", "carol", "bob")
	if err := e.s.CreateGroup(ctx, im.Group{AppID: "a1", ID: "g1", Owner: "x", CreatedAt: base}, nil); !errors.Is(err, im.ErrConflict) {
		t.Fatalf("second CreateGroup g1: %v, want ErrConflict", err)
	}
	e.group("a2", "g1", "zed") // another app, same ID
	e.reopen()
	g, err := e.s.Group(ctx, "a1", "g1")
	if err != nil || g.Owner != "alice" || g.MemberCount != 3 || g.Name != "group g1" || !g.CreatedAt.Equal(base) || !g.DismissedAt.IsZero() {
		t.Fatalf("Group = %+v, %v", g, err)
	}
	if _, err := e.s.Group(ctx, "a1", "nope"); !errors.Is(err, im.ErrNotFound) {
		t.Fatalf("Group(nope): %v", err)
	}
	if got := e.members("a1", "g1"); !slices.Equal(got, []string{"alice", "bob", "carol"}) {
		t.Fatalf("members %v", got)
	}
	page, err := e.s.GroupMembers(ctx, "a1", "g1", "alice", 1)
	if err != nil || len(page) != 1 || page[0].UserID != "bob" || page[0].Role != 3 {
		t.Fatalf("page after alice: %+v %v", page, err)
	}

	if err := e.s.SetGroupRoles(ctx, "a1", "g1", map[string]int{"bob": 1, "alice": 3}, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.RemoveGroupMembers(ctx, "a1", "g1", []string{"carol"}); err != nil {
		t.Fatal(err)
	}
	e.reopen()
	g, _ = e.s.Group(ctx, "a1", "g1")
	ms, _ := e.s.GroupMembers(ctx, "a1", "g1", "", 0)
	if g.Owner != "bob" || g.MemberCount != 2 || len(ms) != 2 || ms[0].Role != 3 || ms[1].Role != 1 {
		t.Fatalf("after transfer and removal: %+v %+v", g, ms)
	}
	gs, err := e.s.UserGroups(ctx, "a1", "bob", "", 10)
	if err != nil || len(gs) != 1 || gs[0].ID != "g1" || gs[0].Role != 1 {
		t.Fatalf("bob's groups %+v %v", gs, err)
	}
	if gs, _ := e.s.UserGroups(ctx, "a1", "carol", "", 10); len(gs) != 0 {
		t.Fatalf("carol left but has %+v", gs)
	}

	at := base.Add(time.Hour)
	if err := e.s.DismissGroup(ctx, "a1", "g1", at); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DismissGroup(ctx, "a1", "nope", at); !errors.Is(err, im.ErrNotFound) {
		t.Fatalf("DismissGroup(nope): %v", err)
	}
	e.reopen()
	g, _ = e.s.Group(ctx, "a1", "g1")
	if !g.DismissedAt.Equal(at) || g.MemberCount != 0 || len(e.members("a1", "g1")) != 0 {
		t.Fatalf("dismissed group %+v members %v", g, e.members("a1", "g1"))
	}
	if got := e.members("a2", "g1"); !slices.Equal(got, []string{"zed"}) {
		t.Fatalf("a2's g1 touched: %v", got)
	}
}

// testGroupMessages: group messages take one sequence per group, move the
// group's last message and the sender's read position, and members see
// from their joined position: in Pending, the conversation list and
// unread counts.
func testGroupMessages(t *testing.T, e *env) {
	e.app("a1")
	ctx := t.Context()
	e.group("a1", "g", "alice", "bob")
	res := e.append(e.gmsg("a1", "g", "alice", "l1", "one"), e.gmsg("a1", "g", "bob", "l2", "two"), e.msg("a1", "alice", "bob", "p1", "peer"))
	if res[0].Seq != 1 || res[1].Seq != 2 || res[2].Seq != 1 {
		t.Fatalf("seqs %+v", res)
	}
	e.append(e.gmsg("a1", "g", "alice", "l3", "three"))
	joined, err := e.s.AddGroupMembers(ctx, "a1", "g", []im.GroupMember{{UserID: "carol", Role: 3, JoinedAt: base}})
	if err != nil || joined != 3 {
		t.Fatalf("AddGroupMembers = %d, %v; want joined at 3", joined, err)
	}
	e.append(e.gmsg("a1", "g", "bob", "l4", "four"))
	e.reopen()

	if got := seqs(e.all("a1", im.GroupConvID("g"))); !slices.Equal(got, span(1, 4)) {
		t.Fatalf("group seqs %v", got)
	}
	// Carol sees from 3; bob's device acknowledged 2.
	if err := e.s.SaveCursors(ctx, []im.Cursor{{AppID: "a1", UserID: "bob", DeviceID: "d", ConvID: im.GroupConvID("g"), Seq: 2}}); err != nil {
		t.Fatal(err)
	}
	if p := e.pending("a1", "carol", "d")[im.GroupConvID("g")]; p != [2]int64{3, 4} {
		t.Fatalf("carol's pending %v", p)
	}
	if p := e.pending("a1", "bob", "d"); p[im.GroupConvID("g")] != [2]int64{2, 4} || p[im.PeerConvID("alice", "bob")] != [2]int64{0, 1} {
		t.Fatalf("bob's pending %v", p)
	}

	// Unread: bob sent 2 and 4, so only what came after 4 counts: none;
	// alice sent 3: 4 is unread; carol joined at 3: 4 is unread.
	unread := func(user string) (int64, *im.Conversation) {
		cs, err := e.s.Conversations(ctx, "a1", user, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		for i := range cs {
			if cs[i].ConvID == im.GroupConvID("g") {
				return cs[i].Unread, &cs[i]
			}
		}
		return -1, nil
	}
	for user, want := range map[string]int64{"bob": 0, "alice": 1, "carol": 1} {
		n, c := unread(user)
		if n != want || c.LastMsg == nil || c.LastMsg.Text != "four" || c.ConvType != 2 || c.PeerID != "g" || c.LastSeq != 4 {
			t.Fatalf("%s's group conversation: unread %d, %+v", user, n, c)
		}
	}
	// The list merges peers and groups newest first.
	cs, _ := e.s.Conversations(ctx, "a1", "alice", 0, 10)
	if len(cs) != 2 || cs[0].ConvID != im.GroupConvID("g") || cs[1].ConvID != im.PeerConvID("alice", "bob") {
		t.Fatalf("alice's list %+v", cs)
	}
	if cs, _ := e.s.Conversations(ctx, "a1", "alice", 0, 1); len(cs) != 1 || cs[0].ConvType != 2 {
		t.Fatalf("alice's first page %+v", cs)
	}
	if n, err := e.s.MarkGroupRead(ctx, "a1", "carol", "g", 0); err != nil || n != 0 {
		t.Fatalf("MarkGroupRead = %d, %v", n, err)
	}
	if _, err := e.s.MarkGroupRead(ctx, "a1", "zed", "g", 0); !errors.Is(err, im.ErrNotFound) {
		t.Fatalf("MarkGroupRead by a non-member: %v", err)
	}
	if n, _ := unread("carol"); n != 0 {
		t.Fatalf("carol's unread after mark read %d", n)
	}
}

// testGroupFanouts: a group message with GroupPush records its planning,
// PlanGroupPush writes jobs and progress, the last page removes it, and
// a reopen in between resumes where it stopped.
func testGroupFanouts(t *testing.T, e *env) {
	e.app("a1")
	ctx := t.Context()
	e.group("a1", "g", "alice", "bob", "carol")
	m := e.gmsg("a1", "g", "alice", "l1", "push me")
	m.PushConfig, m.GroupPush, m.PushExpires = &push.Content{Title: "t"}, true, base.Add(time.Hour)
	plain := e.gmsg("a1", "g", "alice", "l2", "no push")
	e.append(m, plain)
	e.reopen()
	fs, err := e.s.GroupFanouts(ctx, 10)
	if err != nil || len(fs) != 1 {
		t.Fatalf("GroupFanouts = %+v, %v", fs, err)
	}
	f := fs[0]
	if f.MessageID != m.ID || f.GroupID != "g" || f.Seq != 1 || f.Sender != "alice" || !f.ExpiresAt.Equal(base.Add(time.Hour)) || f.AfterUser != "" {
		t.Fatalf("fanout %+v", f)
	}
	if err := e.s.PlanGroupPush(ctx, f, []string{"bob"}, "bob"); err != nil {
		t.Fatal(err)
	}
	e.reopen()
	fs, _ = e.s.GroupFanouts(ctx, 10)
	if len(fs) != 1 || fs[0].AfterUser != "bob" {
		t.Fatalf("progress not kept: %+v", fs)
	}
	if err := e.s.PlanGroupPush(ctx, fs[0], nil, ""); err != nil {
		t.Fatal(err)
	}
	if fs, _ := e.s.GroupFanouts(ctx, 10); len(fs) != 0 {
		t.Fatalf("finished fanout still listed: %+v", fs)
	}
	// A retry of the same local ID records nothing twice.
	e.append(m)
	if fs, _ := e.s.GroupFanouts(ctx, 10); len(fs) != 0 {
		t.Fatalf("duplicate planned again: %+v", fs)
	}
}

// testGroupConvIDChecked: a group message must carry its group's key.
func testGroupConvIDChecked(t *testing.T, e *env) {
	e.app("a1")
	m := e.gmsg("a1", "g", "alice", "l1", "x")
	m.ConvID = "g:other"
	if _, err := e.s.AppendMessages(t.Context(), []*im.Message{m}); err == nil {
		t.Fatal("a group message under another group's key was stored")
	}
	m = e.gmsg("a1", "g", "alice", "l2", "x")
	m.ConvType = 7
	if _, err := e.s.AppendMessages(t.Context(), []*im.Message{m}); err == nil {
		t.Fatalf("conversation type %d was stored", m.ConvType)
	}
}
