package herald

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// TestCallRequests checks each call method's request and result.
func TestCallRequests(t *testing.T) {
	f := newFakeServer(t)
	info := protocol.CallInfo{CallID: "c1", Inviter: "alice", Mode: protocol.CallModeAdvanced, ExtendedData: "x",
		CreatedAt: 1700000000000, Deadline: 1700000030000,
		Users: []protocol.CallUser{{UserID: "alice", State: protocol.CallAccepted, UpdatedAt: 1700000000000}, {UserID: "bob", State: protocol.CallReceived, ExtendedData: "y", UpdatedAt: 1700000001000}}}
	invited := func(string, protocol.Frame) (any, *protocol.Error) {
		return protocol.CallInviteReply{CallID: "c1", Timeout: 2, Deadline: 1700000002000,
			ErrorInvitees: []protocol.CallErrorUser{{UserID: "zed", Code: protocol.CodeUserNotFound, Reason: "no such user"}}}, nil
	}
	confirm := func(string, protocol.Frame) (any, *protocol.Error) { return protocol.CallReply{CallID: "c1"}, nil }
	f.setAnswer(protocol.TypeCallInvite, invited)
	f.setAnswer(protocol.TypeCallingInvite, invited)
	for _, typ := range []string{protocol.TypeCallAccept, protocol.TypeCallReject, protocol.TypeCallQuit, protocol.TypeCallEnd} {
		f.setAnswer(typ, confirm)
	}
	f.setAnswer(protocol.TypeCallCancel, func(string, protocol.Frame) (any, *protocol.Error) {
		return protocol.CallReply{CallID: "c1", ErrorInvitees: []protocol.CallErrorUser{{UserID: "bob", Code: protocol.CodeCallAnswered, Reason: "answered"}}}, nil
	})
	f.setAnswer(protocol.TypeCallJoin, func(string, protocol.Frame) (any, *protocol.Error) { return info, nil })
	f.setAnswer(protocol.TypeCallInfo, func(string, protocol.Frame) (any, *protocol.Error) { return info, nil })

	c, _ := newTestClient(t, f, nil)
	login(t, c, "alice")
	ctx := context.Background()
	pc := &PushConfig{Title: "T", Content: "C"}
	wantSent := CallInvitationSentResult{CallID: "c1", Timeout: 2 * time.Second, Deadline: time.UnixMilli(1700000002000),
		ErrorInvitees: []ErrorUserInfo{{UserID: "zed", Code: CodeUserNotFound, Reason: "no such user"}}}
	wantInfo := CallInfo{CallID: "c1", Inviter: "alice", Mode: CallInvitationModeAdvanced, ExtendedData: "x",
		CreatedAt: time.UnixMilli(1700000000000), Deadline: time.UnixMilli(1700000030000),
		CallUserList: []CallUserInfo{
			{UserID: "alice", State: CallUserStateAccepted, UpdatedAt: time.UnixMilli(1700000000000)},
			{UserID: "bob", State: CallUserStateReceived, ExtendedData: "y", UpdatedAt: time.UnixMilli(1700000001000)},
		}}
	answer := CallAnswerConfig{ExtendedData: "e"}

	tests := []struct {
		name     string
		call     func() (any, error)
		wantType string
		wantData string
		want     any
	}{
		{"invite", func() (any, error) {
			return c.CallInvite(ctx, []string{"bob", "zed"}, CallInviteConfig{Mode: CallInvitationModeAdvanced, Timeout: 1500 * time.Millisecond, ExtendedData: "x", PushConfig: pc})
		}, protocol.TypeCallInvite, `{"invitees":["bob","zed"],"mode":1,"timeout":2,"extendedData":"x","pushConfig":{"title":"T","content":"C"}}`, wantSent},
		{"invite with defaults", func() (any, error) {
			return c.CallInvite(ctx, []string{"bob"}, CallInviteConfig{})
		}, protocol.TypeCallInvite, `{"invitees":["bob"]}`, wantSent},
		{"calling invite", func() (any, error) {
			return c.CallingInvite(ctx, []string{"carol"}, "c1", CallingInviteConfig{Timeout: 30 * time.Second, PushConfig: pc})
		}, protocol.TypeCallingInvite, `{"callID":"c1","invitees":["carol"],"timeout":30,"pushConfig":{"title":"T","content":"C"}}`, wantSent},
		{"cancel", func() (any, error) {
			return c.CallCancel(ctx, []string{"bob"}, "c1", CallCancelConfig{ExtendedData: "bye", PushConfig: pc})
		}, protocol.TypeCallCancel, `{"callID":"c1","invitees":["bob"],"extendedData":"bye","pushConfig":{"title":"T","content":"C"}}`,
			CallCancelSentResult{CallID: "c1", ErrorInvitees: []ErrorUserInfo{{UserID: "bob", Code: CodeCallAnswered, Reason: "answered"}}}},
		{"cancel all", func() (any, error) { return c.CallCancel(ctx, nil, "c1", CallCancelConfig{}) },
			protocol.TypeCallCancel, `{"callID":"c1"}`, nil},
		{"accept", func() (any, error) { return nil, c.CallAccept(ctx, "c1", answer) }, protocol.TypeCallAccept, `{"callID":"c1","extendedData":"e"}`, nil},
		{"reject", func() (any, error) { return nil, c.CallReject(ctx, "c1", CallAnswerConfig{}) }, protocol.TypeCallReject, `{"callID":"c1"}`, nil},
		{"quit", func() (any, error) { return nil, c.CallQuit(ctx, "c1", answer) }, protocol.TypeCallQuit, `{"callID":"c1","extendedData":"e"}`, nil},
		{"end", func() (any, error) { return nil, c.CallEnd(ctx, "c1", answer) }, protocol.TypeCallEnd, `{"callID":"c1","extendedData":"e"}`, nil},
		{"join", func() (any, error) { return c.CallJoin(ctx, "c1", answer) }, protocol.TypeCallJoin, `{"callID":"c1","extendedData":"e"}`, wantInfo},
		{"info", func() (any, error) { return c.QueryCallInfo(ctx, "c1") }, protocol.TypeCallInfo, `{"callID":"c1"}`, wantInfo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.call()
			if err != nil {
				t.Fatal(err)
			}
			fr := f.lastRequest()
			if fr.Type != tt.wantType || string(fr.Data) != tt.wantData {
				t.Errorf("request %s %s\nwant    %s %s", fr.Type, fr.Data, tt.wantType, tt.wantData)
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("result %+v\nwant   %+v", got, tt.want)
			}
		})
	}

	f.setAnswer(protocol.TypeCallAccept, func(string, protocol.Frame) (any, *protocol.Error) {
		return nil, protocol.Errorf(protocol.CodeCallEnded, "")
	})
	err := c.CallAccept(ctx, "c1", CallAnswerConfig{})
	if !errors.Is(err, &Error{Code: CodeCallEnded}) {
		t.Errorf("accept an ended call: %v", err)
	}
	// A type the server does not serve (yet) comes back as unavailable.
	f.setAnswer(protocol.TypeCallEnd, nil)
	if err := c.CallEnd(ctx, "c1", CallAnswerConfig{}); !errors.Is(err, &Error{Code: CodeUnavailable}) {
		t.Errorf("unanswered type: %v", err)
	}
}

// TestCallEvents: call events reach their handlers, typed and in order.
func TestCallEvents(t *testing.T) {
	f := newFakeServer(t)
	c, _, n := newNotedClient(t, f)
	login(t, c, "bob")
	eventually(t, "connected", func() bool { return c.ConnectionState() == ConnectionStateConnected })

	users := []protocol.CallUser{{UserID: "alice", State: protocol.CallAccepted}, {UserID: "bob", State: protocol.CallReceived, UpdatedAt: 1700000001000}}
	f.eventTo("bob", protocol.EventCallInvitationReceived, protocol.CallInvitationReceived{
		CallID: "c1", Inviter: "alice", Mode: protocol.CallModeGeneral, Timeout: 30, Deadline: 1700000030000,
		ExtendedData: "x", CreatedAt: 1700000000000, Users: users})
	f.eventTo("bob", protocol.EventCallUserStateChanged, protocol.CallUserStateChanged{CallID: "c1", Users: users[1:]})
	f.eventTo("bob", protocol.EventCallInvitationCancelled, protocol.CallInvitationCancelled{CallID: "c1", Inviter: "alice", Mode: protocol.CallModeGeneral, ExtendedData: "bye"})
	f.eventTo("bob", protocol.EventCallInvitationTimeout, protocol.CallInvitationTimeout{CallID: "c2", Mode: protocol.CallModeAdvanced})
	f.eventTo("bob", protocol.EventCallInvitationEnded, protocol.CallInvitationEnded{CallID: "c3", OperatedBy: "alice", Mode: protocol.CallModeAdvanced, ExtendedData: "end", EndedAt: 1700000040000})

	got := n.waitLen(t, 5)
	want := []string{"callReceived c1", "callUserState c1 bob=received", "callCancelled c1", "callTimeout c2", "callEnded c3"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events = %q, want %q", got, want)
	}
	rec := n.val(0).(CallInvitationReceivedInfo)
	wantRec := CallInvitationReceivedInfo{Inviter: "alice", Mode: CallInvitationModeGeneral, Timeout: 30 * time.Second,
		Deadline: time.UnixMilli(1700000030000), ExtendedData: "x", CreatedAt: time.UnixMilli(1700000000000),
		CallUserList: []CallUserInfo{{UserID: "alice", State: CallUserStateAccepted}, {UserID: "bob", State: CallUserStateReceived, UpdatedAt: time.UnixMilli(1700000001000)}}}
	if !reflect.DeepEqual(rec, wantRec) {
		t.Errorf("callInvitationReceived = %+v\nwant %+v", rec, wantRec)
	}
	if us := n.val(1).(CallUserStateChangeInfo); len(us.CallUserList) != 1 || us.CallUserList[0].State != CallUserStateReceived {
		t.Errorf("callUserStateChanged = %+v", us)
	}
	if cc := n.val(2).(CallInvitationCancelledInfo); cc != (CallInvitationCancelledInfo{Inviter: "alice", ExtendedData: "bye"}) {
		t.Errorf("callInvitationCancelled = %+v", cc)
	}
	if to := n.val(3).(CallInvitationTimeoutInfo); to.Mode != CallInvitationModeAdvanced {
		t.Errorf("callInvitationTimeout = %+v", to)
	}
	wantEnd := CallInvitationEndedInfo{CallID: "c3", OperatedUserID: "alice", Mode: CallInvitationModeAdvanced, ExtendedData: "end", EndTime: time.UnixMilli(1700000040000)}
	if end := n.val(4).(CallInvitationEndedInfo); end != wantEnd {
		t.Errorf("callInvitationEnded = %+v", end)
	}
}

func TestTimeoutSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 0, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 90 * time.Second: 90, -time.Second: -1} {
		if got := timeoutSeconds(d); got != want {
			t.Errorf("timeoutSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}
