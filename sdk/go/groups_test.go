package herald

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// notes records group messages and group and call events, in the order the
// handlers ran, as short strings and typed values.
type notes struct {
	mu   sync.Mutex
	log  []string
	vals []any
}

func (n *notes) add(s string, v any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.log = append(n.log, s)
	n.vals = append(n.vals, v)
}

func (n *notes) list() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.log...)
}

func (n *notes) val(i int) any {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.vals[i]
}

func (n *notes) waitLen(t *testing.T, k int) []string {
	t.Helper()
	eventually(t, fmt.Sprintf("%d notes", k), func() bool { return len(n.list()) >= k })
	time.Sleep(20 * time.Millisecond) // let extra ones, if any, arrive
	return n.list()
}

// withNotes adds group and call handlers that record into n.
func withNotes(h EventHandler, n *notes) EventHandler {
	h.ReceiveGroupMessage = func(msgs []Message, info MessageReceivedInfo, group string) {
		for _, m := range msgs {
			if m.ConversationID != group || m.ConversationType != ConversationTypeGroup {
				panic(fmt.Sprintf("group batch of %s holds %+v", group, m))
			}
			n.add(fmt.Sprintf("group %s %s offline=%v", group, m.Text, info.IsOfflineMessage), m)
		}
	}
	h.GroupStateChanged = func(i GroupStateChangedInfo) {
		n.add(fmt.Sprintf("groupState %s %s %s", i.GroupInfo.GroupID, i.State, i.Event), i)
	}
	h.GroupMemberStateChanged = func(i GroupMemberStateChangedInfo) {
		n.add(fmt.Sprintf("memberState %s %s %s %v", i.GroupID, i.State, i.Event, i.UserIDs), i)
	}
	h.GroupMemberInfoUpdated = func(i GroupMemberInfoUpdatedInfo) {
		n.add(fmt.Sprintf("memberInfo %s", i.GroupID), i)
	}
	h.CallInvitationReceived = func(i CallInvitationReceivedInfo, id string) {
		n.add("callReceived "+id, i)
	}
	h.CallInvitationCancelled = func(i CallInvitationCancelledInfo, id string) {
		n.add("callCancelled "+id, i)
	}
	h.CallInvitationTimeout = func(i CallInvitationTimeoutInfo, id string) {
		n.add("callTimeout "+id, i)
	}
	h.CallUserStateChanged = func(i CallUserStateChangeInfo) {
		s := "callUserState " + i.CallID
		for _, u := range i.CallUserList {
			s += " " + u.UserID + "=" + u.State.String()
		}
		n.add(s, i)
	}
	h.CallInvitationEnded = func(i CallInvitationEndedInfo) {
		n.add("callEnded "+i.CallID, i)
	}
	h.GroupApplicationListChanged = func(apps []GroupApplicationInfo, action GroupApplicationListChangeAction) {
		for _, a := range apps {
			n.add(fmt.Sprintf("application %s %s %s", action, a.GroupID, a.ApplyUserID), a)
		}
	}
	h.GroupApplicationUpdated = func(i GroupApplicationUpdatedInfo) {
		n.add(fmt.Sprintf("applicationUpdated %s %s %d", i.Application.GroupID, i.Application.ApplyUserID, i.Application.State), i)
	}
	h.GroupJoinModeUpdated = func(i GroupJoinModeUpdatedInfo) {
		n.add(fmt.Sprintf("joinMode %s %d", i.GroupID, i.JoinMode), i)
	}
	return h
}

// waitFor waits for a note that starts with prefix and returns its index.
func (n *notes) waitFor(t *testing.T, prefix string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		list := n.list()
		for j, s := range list {
			if strings.HasPrefix(s, prefix) {
				return j
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in %q", prefix, list)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newNotedClient(t *testing.T, f *fakeServer) (*Client, *recorder, *notes) {
	t.Helper()
	c, r := newTestClient(t, f, nil)
	n := &notes{}
	c.SetEventHandler(withNotes(r.handler(), n))
	return c, r, n
}

// TestGroupMessages: group messages reach ReceiveGroupMessage (offline and
// live), never ReceivePeerMessage, are acknowledged with conversationType 2
// and the group ID, and are kept apart from a peer conversation with a user
// of the same ID.
func TestGroupMessages(t *testing.T) {
	f := newFakeServer(t)
	f.setGroup("g1", "alice", "bob")
	f.injectGroup("alice", "g1", "off1")
	f.inject("g1", "bob", protocol.MessageText, "peer from user g1")
	c, r, n := newNotedClient(t, f)
	login(t, c, "bob")
	n.waitLen(t, 1)
	wantTexts(t, r, "peer from user g1")

	f.injectGroup("alice", "g1", "live1")
	got := n.waitLen(t, 2)
	if want := []string{"group g1 off1 offline=true", "group g1 live1 offline=false"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("group notes = %q, want %q", got, want)
	}
	if m := n.val(1).(Message); m.SenderUserID != "alice" || m.ConversationSeq != 2 {
		t.Errorf("live group message = %+v", m)
	}
	eventually(t, "group ack", func() bool { return f.groupCursor("bob", "dev1", "g1") == 2 })
	if f.cursor("bob", "dev1", "g1") != 1 {
		t.Errorf("peer cursor = %d, want 1", f.cursor("bob", "dev1", "g1"))
	}

	// Sending to the group: conversationType 2 and the push config go over
	// the wire; the own message counts as handled and is acknowledged.
	pc := &PushConfig{Title: "T", Content: "C", Payload: "P", ResourcesID: "R"}
	sent, err := c.SendMessage(context.Background(), NewTextMessage("mine"), "g1", ConversationTypeGroup,
		MessageSendConfig{Priority: MessagePriorityHigh, PushConfig: pc})
	if err != nil {
		t.Fatal(err)
	}
	if sent.ConversationSeq != 3 || sent.ConversationType != ConversationTypeGroup || sent.ConversationID != "g1" {
		t.Errorf("sent = %+v", sent)
	}
	f.mu.Lock()
	req := f.sends[len(f.sends)-1]
	f.mu.Unlock()
	want := protocol.PushConfig{Title: "T", Content: "C", Payload: "P", ResourcesID: "R"}
	if req.ConversationType != protocol.ConversationGroup || req.ConversationID != "g1" || req.PushConfig == nil || *req.PushConfig != want {
		t.Errorf("send request = %+v", req)
	}
	eventually(t, "own group message acked", func() bool { return f.groupCursor("bob", "dev1", "g1") == 3 })

	// A resent copy of a handled group message is dropped.
	f.mu.Lock()
	dup := f.msgs["g|g1"][1]
	f.mu.Unlock()
	f.eventTo("bob", protocol.EventMessage, dup.view("bob", false))
	f.injectGroup("alice", "g1", "live2")
	if got := n.waitLen(t, 3); len(got) != 3 || got[2] != "group g1 live2 offline=false" {
		t.Errorf("after a duplicate: %q", got)
	}
	if len(r.texts()) != 1 {
		t.Errorf("peer handler got %q", r.texts())
	}
}

// groupAnswers makes the fake server answer every group request.
func groupAnswers(f *fakeServer) {
	g := protocol.Group{GroupID: "g1", Name: "Team", ExtendedData: "x", OwnerUserID: "alice", MemberCount: 3, CreatedAt: 1700000000000, MyRole: protocol.RoleOwner}
	groupReply := func(string, protocol.Frame) (any, *protocol.Error) { return protocol.GroupReply{Group: g}, nil }
	empty := func(string, protocol.Frame) (any, *protocol.Error) { return struct{}{}, nil }
	users := func(_ string, fr protocol.Frame) (any, *protocol.Error) {
		var req protocol.GroupUsersRequest
		_ = json.Unmarshal(fr.Data, &req)
		return protocol.GroupUsersReply{UserIDs: req.UserIDs, MemberCount: 5}, nil
	}
	f.setAnswer(protocol.TypeGroupCreate, groupReply)
	f.setAnswer(protocol.TypeGroupJoin, groupReply)
	f.setAnswer(protocol.TypeGroupInfo, groupReply)
	f.setAnswer(protocol.TypeGroupLeave, empty)
	f.setAnswer(protocol.TypeGroupDismiss, empty)
	f.setAnswer(protocol.TypeGroupTransfer, empty)
	f.setAnswer(protocol.TypeGroupSetRole, empty)
	f.setAnswer(protocol.TypeGroupInvite, users)
	f.setAnswer(protocol.TypeGroupKick, users)
	f.setAnswer(protocol.TypeGroupMembers, func(_ string, fr protocol.Frame) (any, *protocol.Error) {
		var req protocol.GroupMembersRequest
		_ = json.Unmarshal(fr.Data, &req)
		if req.Next == "" {
			return protocol.GroupMembersReply{Members: []protocol.GroupMember{{UserID: "alice", Role: 1, JoinedAt: 1700000000000}}, Next: "alice"}, nil
		}
		return protocol.GroupMembersReply{Members: []protocol.GroupMember{{UserID: "bob", Role: 3, JoinedAt: 1700000001000}}}, nil
	})
	f.setAnswer(protocol.TypeGroupList, func(_ string, fr protocol.Frame) (any, *protocol.Error) {
		var req protocol.GroupListRequest
		_ = json.Unmarshal(fr.Data, &req)
		if req.Next == "" {
			return protocol.GroupListReply{Groups: []protocol.Group{g}, Next: "g1"}, nil
		}
		g2 := g
		g2.GroupID, g2.MyRole = "g2", protocol.RoleMember
		return protocol.GroupListReply{Groups: []protocol.Group{g2}}, nil
	})
}

// TestGroupRequests checks each group method's request and result.
func TestGroupRequests(t *testing.T) {
	f := newFakeServer(t)
	groupAnswers(f)
	c, _ := newTestClient(t, f, nil)
	login(t, c, "alice")
	ctx := context.Background()
	wantGroup := GroupFullInfo{
		GroupInfo:   GroupInfo{GroupID: "g1", GroupName: "Team", ExtendedData: "x"},
		OwnerUserID: "alice", MemberCount: 3, CreatedAt: time.UnixMilli(1700000000000), MyRole: GroupMemberRoleOwner,
	}

	tests := []struct {
		name     string
		call     func() (any, error)
		wantType string
		wantData string
		want     any
	}{
		{"create", func() (any, error) {
			return c.CreateGroup(ctx, GroupInfo{GroupID: "g1", GroupName: "Team", ExtendedData: "x"}, []string{"bob", "carol"})
		}, protocol.TypeGroupCreate, `{"groupID":"g1","name":"Team","extendedData":"x","members":["bob","carol"]}`, wantGroup},
		{"create with server ID", func() (any, error) {
			return c.CreateGroup(ctx, GroupInfo{GroupName: "Team"}, nil)
		}, protocol.TypeGroupCreate, `{"name":"Team"}`, wantGroup},
		{"join", func() (any, error) { return c.JoinGroup(ctx, "g1") }, protocol.TypeGroupJoin, `{"groupID":"g1"}`, wantGroup},
		{"info", func() (any, error) { return c.QueryGroupInfo(ctx, "g1") }, protocol.TypeGroupInfo, `{"groupID":"g1"}`, wantGroup},
		{"leave", func() (any, error) { return nil, c.LeaveGroup(ctx, "g1") }, protocol.TypeGroupLeave, `{"groupID":"g1"}`, nil},
		{"dismiss", func() (any, error) { return nil, c.DismissGroup(ctx, "g1") }, protocol.TypeGroupDismiss, `{"groupID":"g1"}`, nil},
		{"transfer", func() (any, error) { return nil, c.TransferGroupOwner(ctx, "bob", "g1") },
			protocol.TypeGroupTransfer, `{"groupID":"g1","toUserID":"bob"}`, nil},
		{"set role", func() (any, error) { return nil, c.SetGroupMemberRole(ctx, GroupMemberRoleAdmin, "bob", "g1") },
			protocol.TypeGroupSetRole, `{"groupID":"g1","userID":"bob","role":2}`, nil},
		{"invite", func() (any, error) { return c.InviteUsersIntoGroup(ctx, []string{"dan", "eve"}, "g1") },
			protocol.TypeGroupInvite, `{"groupID":"g1","userIDs":["dan","eve"]}`,
			GroupUsersResult{GroupID: "g1", UserIDs: []string{"dan", "eve"}, MemberCount: 5}},
		{"kick", func() (any, error) { return c.KickGroupMembers(ctx, []string{"dan"}, "g1") },
			protocol.TypeGroupKick, `{"groupID":"g1","userIDs":["dan"]}`,
			GroupUsersResult{GroupID: "g1", UserIDs: []string{"dan"}, MemberCount: 5}},
		{"members page 2", func() (any, error) {
			ms, next, err := c.QueryGroupMemberList(ctx, "g1", GroupMemberQueryConfig{Count: 1, NextFlag: "alice"})
			return fmt.Sprint(ms, next), err
		}, protocol.TypeGroupMembers, `{"groupID":"g1","count":1,"next":"alice"}`,
			fmt.Sprint([]GroupMemberInfo{{UserID: "bob", MemberRole: GroupMemberRoleMember, JoinedAt: time.UnixMilli(1700000001000)}}, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.call()
			if err != nil {
				t.Fatal(err)
			}
			fr := f.lastRequest()
			if fr.Type != tt.wantType || string(fr.Data) != tt.wantData {
				t.Errorf("request %s %s, want %s %s", fr.Type, fr.Data, tt.wantType, tt.wantData)
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("result %+v, want %+v", got, tt.want)
			}
		})
	}

	ms, next, err := c.QueryGroupMemberList(ctx, "g1", GroupMemberQueryConfig{})
	if err != nil || len(ms) != 1 || ms[0].UserID != "alice" || ms[0].MemberRole != GroupMemberRoleOwner || next != "alice" {
		t.Errorf("first member page = %+v %q %v", ms, next, err)
	}
	list, err := c.QueryGroupList(ctx)
	if err != nil || len(list) != 2 || list[0].GroupID != "g1" || list[1].GroupID != "g2" || list[1].MyRole != GroupMemberRoleMember {
		t.Errorf("group list = %+v, %v", list, err)
	}
	if fr := f.lastRequest(); string(fr.Data) != `{"count":100,"next":"g1"}` {
		t.Errorf("second group list request = %s", fr.Data)
	}

	// Server errors come back as *Error with the server's code.
	f.setAnswer(protocol.TypeGroupJoin, func(string, protocol.Frame) (any, *protocol.Error) {
		return nil, protocol.Errorf(protocol.CodeGroupDismissed, "")
	})
	_, err = c.JoinGroup(ctx, "g1")
	if !errors.Is(err, &Error{Code: CodeGroupDismissed}) {
		t.Errorf("join a dismissed group: %v", err)
	}
	if got := err.Error(); got != "herald: join group: 41000 group_dismissed: the group was dismissed" {
		t.Errorf("error text %q", got)
	}
}

// TestGroupEvents: group events reach their handlers, typed, in order with
// the messages around them.
func TestGroupEvents(t *testing.T) {
	f := newFakeServer(t)
	f.setGroup("g1", "alice", "bob")
	c, _, n := newNotedClient(t, f)
	login(t, c, "bob")
	eventually(t, "connected", func() bool { return c.ConnectionState() == ConnectionStateConnected })

	g := protocol.Group{GroupID: "g1", Name: "Team", OwnerUserID: "alice", MemberCount: 2, CreatedAt: 1700000000000, MyRole: protocol.RoleMember}
	f.eventTo("bob", protocol.EventGroupStateChanged, protocol.GroupStateChanged{
		GroupID: "g1", State: protocol.GroupStateEnter, Event: protocol.GroupEventInvited, OperatedBy: "alice", Group: g})
	f.injectGroup("alice", "g1", "welcome")
	f.eventTo("bob", protocol.EventGroupMemberStateChanged, protocol.GroupMemberStateChanged{
		GroupID: "g1", State: protocol.GroupStateQuit, Event: protocol.GroupEventKickedOut, UserIDs: []string{"carol"}, OperatedBy: "alice", MemberCount: 2})
	f.eventTo("bob", protocol.EventGroupMemberInfoUpdated, protocol.GroupMemberInfoUpdated{
		GroupID: "g1", Members: []protocol.GroupMember{{UserID: "bob", Role: protocol.RoleAdmin, JoinedAt: 1700000001000}}, OperatedBy: "alice"})
	f.eventTo("bob", protocol.EventGroupStateChanged, protocol.GroupStateChanged{
		GroupID: "g1", State: protocol.GroupStateQuit, Event: protocol.GroupEventDismissed, OperatedBy: "alice", Group: g})

	got := n.waitLen(t, 5)
	want := []string{
		"groupState g1 enter invited",
		"group g1 welcome offline=false",
		"memberState g1 quit kickedOut [carol]",
		"memberInfo g1",
		"groupState g1 quit dismissed",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events = %q\nwant %q", got, want)
	}
	st := n.val(0).(GroupStateChangedInfo)
	if st.State != GroupStateEnter || st.Event != GroupEventInvited || st.OperatedBy != "alice" ||
		st.GroupInfo.GroupName != "Team" || st.GroupInfo.MyRole != GroupMemberRoleMember || st.GroupInfo.MemberCount != 2 {
		t.Errorf("groupStateChanged = %+v", st)
	}
	ms := n.val(2).(GroupMemberStateChangedInfo)
	if ms.MemberCount != 2 || ms.OperatedBy != "alice" || ms.Event != GroupEventKickedOut {
		t.Errorf("groupMemberStateChanged = %+v", ms)
	}
	mi := n.val(3).(GroupMemberInfoUpdatedInfo)
	if len(mi.Members) != 1 || mi.Members[0].MemberRole != GroupMemberRoleAdmin || mi.OperatedBy != "alice" || !mi.Members[0].JoinedAt.Equal(time.UnixMilli(1700000001000)) {
		t.Errorf("groupMemberInfoUpdated = %+v", mi)
	}
}

func TestGroupEnumNames(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{GroupMemberRoleOwner.String(), "owner"},
		{GroupMemberRoleAdmin.String(), "admin"},
		{GroupMemberRoleMember.String(), "member"},
		{GroupMemberRole(0).String(), "none"},
		{GroupStateEnter.String(), "enter"},
		{GroupStateQuit.String(), "quit"},
		{groupStateFromWire("bogus").String(), "GroupState(-1)"},
		{GroupEventKickedOut.String(), "kickedOut"},
		{groupEventFromWire("dismissed").String(), "dismissed"},
		{groupEventFromWire("bogus").String(), "none"},
		{CallInvitationModeAdvanced.String(), "advanced"},
		{CallUserStateReceived.String(), "received"},
		{CallUserState(4).String(), "CallUserState(4)"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
