package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	herald "github.com/heraldim/herald/sdk/go"
)

// Lines listen prints; "event" names the kind of line.
type (
	messageLine struct {
		Event            string `json:"event"` // "message"
		ConversationID   string `json:"conversationID"`
		ConversationType int    `json:"conversationType"`
		Sender           string `json:"sender"`
		MessageID        string `json:"messageID"`
		LocalMessageID   string `json:"localMessageID,omitempty"`
		Seq              int64  `json:"seq,omitempty"`
		Type             int    `json:"type"`
		SubType          int    `json:"subType,omitempty"`
		Text             string `json:"text,omitempty"`
		Data             []byte `json:"data,omitempty"` // base64
		Priority         int    `json:"priority"`
		Offline          bool   `json:"offline"`
		Timestamp        int64  `json:"timestamp"`
	}
	stateLine struct {
		Event           string         `json:"event"` // "connectionStateChanged"
		State           string         `json:"state"`
		ConnectionEvent string         `json:"connectionEvent"`
		Extended        map[string]any `json:"extended,omitempty"`
	}
	syncDoneLine struct {
		Event string `json:"event"` // "syncDone"
		Count int    `json:"count"`
	}
	kickedLine struct {
		Event   string `json:"event"` // "kicked"
		Reason  any    `json:"reason,omitempty"`
		Message any    `json:"message,omitempty"`
	}
	tokenLine struct {
		Event       string `json:"event"` // "tokenWillExpire", "tokenRenewed", "tokenRenewFailed"
		SecondsLeft int    `json:"secondsLeft,omitempty"`
		Error       string `json:"error,omitempty"`
	}
	groupStateLine struct {
		Event      string    `json:"event"` // "groupStateChanged"
		GroupID    string    `json:"groupID"`
		State      string    `json:"state"`      // enter or quit
		GroupEvent string    `json:"groupEvent"` // created, joined, invited, left, kickedOut, dismissed
		OperatedBy string    `json:"operatedBy"`
		Group      groupLine `json:"group"`
	}
	groupMemberStateLine struct {
		Event       string   `json:"event"` // "groupMemberStateChanged"
		GroupID     string   `json:"groupID"`
		State       string   `json:"state"`
		GroupEvent  string   `json:"groupEvent"`
		UserIDs     []string `json:"userIDs"`
		OperatedBy  string   `json:"operatedBy"`
		MemberCount int      `json:"memberCount"`
	}
	groupMemberInfoLine struct {
		Event      string       `json:"event"` // "groupMemberInfoUpdated"
		GroupID    string       `json:"groupID"`
		Members    []memberLine `json:"members"`
		OperatedBy string       `json:"operatedBy"`
	}
	// callLine is every call event's line; fields a kind lacks are left out.
	callLine struct {
		Event        string         `json:"event"` // "callInvitationReceived", "callInvitationCancelled", ...
		CallID       string         `json:"callID"`
		Inviter      string         `json:"inviter,omitempty"`
		OperatedBy   string         `json:"operatedBy,omitempty"`
		Mode         string         `json:"mode,omitempty"` // general or advanced
		Timeout      int            `json:"timeout,omitempty"`
		Deadline     int64          `json:"deadline,omitempty"`
		ExtendedData string         `json:"extendedData,omitempty"`
		EndedAt      int64          `json:"endedAt,omitempty"`
		Users        []callUserLine `json:"users,omitempty"`
	}
)

func newListenCmd() *cobra.Command {
	var (
		opts             clientOptions
		as, device, plat string
		ttl              time.Duration
	)
	cmd := &cobra.Command{
		Use:   "listen --as U [--device D]",
		Short: "Log in and print every event as a JSON line until interrupted",
		Long: `Log in as --as and print one JSON object per line for every event: the
offline messages synced after login and live ones ("message", with
"offline" telling which), "syncDone", "connectionStateChanged", "kicked" and
"tokenWillExpire". Text messages carry "text", custom and command messages
"data" in base64. Group messages are "message" lines with conversationType
2 and the group's ID as conversationID.

Group events: "groupStateChanged" (the user entered or left a group, with
"state" enter/quit, "groupEvent" created/joined/invited/left/kickedOut/
dismissed and the group), "groupMemberStateChanged" (others entered or
left), "groupMemberInfoUpdated" (roles changed). Call events:
"callInvitationReceived" (with "timeout" in seconds and "deadline"),
"callInvitationCancelled", "callInvitationTimeout", "callUserStateChanged"
(users with their states) and "callInvitationEnded".

The SDK reconnects by itself; on SIGINT or SIGTERM listen logs out and
exits 0.

The device ID defaults to "cli-listen-" + the user, so a restarted listen
resumes after the messages it acknowledged (a message is acknowledged after
its line was printed). When it minted its own token, listen renews it before
it expires.

Exit status: 0 interrupted; 4 kicked by another login; 5 token expired;
3 the server refused the login; 1 any other failure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			appID, secret, err := opts.credentials(opts.token == "")
			if err != nil {
				return err
			}
			tok, err := opts.loginToken(appID, secret, as, ttl)
			if err != nil {
				return err
			}
			if device == "" {
				device = "cli-listen-" + as
			}
			c, err := opts.newClient(appID, device, plat, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer c.Destroy()
			l := &listener{
				c:       c,
				out:     newJSONLines(cmd.OutOrStdout()),
				ended:   make(chan herald.ConnectionEvent, 1),
				stopped: make(chan struct{}),
			}
			if opts.token == "" {
				l.renew = func() (string, error) { return herald.GenerateToken(appID, secret, as, ttl) }
			}
			c.SetEventHandler(l.handler())
			if err := c.Login(cmd.Context(), as, tok); err != nil {
				l.waitStopped()
				return serverError("login", err)
			}
			var ev herald.ConnectionEvent
			select {
			case <-cmd.Context().Done():
				l.logoutCalled.Store(true)
				ctx, cancel := context.WithTimeout(context.WithoutCancel(cmd.Context()), 5*time.Second)
				defer cancel()
				err := c.Logout(ctx)
				l.waitStopped()
				if err != nil {
					return serverError("logout", err)
				}
				return nil
			case ev = <-l.ended:
			}
			switch ev {
			case herald.ConnectionEventKickedOut:
				return &exitError{code: exitKicked, err: errors.New("listen: kicked: the user logged in elsewhere")}
			case herald.ConnectionEventTokenExpired:
				return &exitError{code: exitTokenExpired, err: errors.New("listen: token expired")}
			}
			return fmt.Errorf("listen: disconnected (%s)", ev)
		},
	}
	opts.bind(cmd, true)
	fs := cmd.Flags()
	fs.StringVar(&as, "as", "", "user ID to log in as (required)")
	fs.StringVar(&device, "device", "", `device ID (default "cli-listen-" + the user)`)
	fs.StringVar(&plat, "platform", "linux", "platform to log in from (one session per user and platform unless it is \"server\")")
	fs.DurationVar(&ttl, "ttl", 24*time.Hour, "lifetime of the minted login tokens")
	_ = cmd.MarkFlagRequired("as")
	return cmd
}

// listener prints a Client's events. Its handlers run on the SDK's event
// goroutine, one at a time.
type listener struct {
	c     *herald.Client
	out   *jsonLines
	renew func() (string, error) // nil when the token came from --token
	// ended receives the event of a disconnection listen did not ask for.
	ended        chan herald.ConnectionEvent
	stopped      chan struct{} // closed when the Disconnected state was printed
	logoutCalled atomic.Bool
}

// waitStopped lets the final state change be printed before the client is
// destroyed, waiting at most a second.
func (l *listener) waitStopped() {
	select {
	case <-l.stopped:
	case <-time.After(time.Second):
	}
}

func (l *listener) handler() herald.EventHandler {
	return herald.EventHandler{
		ConnectionStateChanged: func(st herald.ConnectionState, ev herald.ConnectionEvent, ext map[string]any) {
			_ = l.out.print(stateLine{Event: "connectionStateChanged", State: st.String(), ConnectionEvent: ev.String(), Extended: ext})
			if ev == herald.ConnectionEventKickedOut {
				_ = l.out.print(kickedLine{Event: "kicked", Reason: ext["reason"], Message: ext["message"]})
			}
			if st != herald.ConnectionStateDisconnected {
				return
			}
			select {
			case <-l.stopped:
			default:
				close(l.stopped)
			}
			if !l.logoutCalled.Load() {
				select {
				case l.ended <- ev:
				default:
				}
			}
		},
		ReceivePeerMessage:  l.messages,
		ReceiveGroupMessage: l.messages,
		GroupStateChanged: func(i herald.GroupStateChangedInfo) {
			_ = l.out.print(groupStateLine{Event: "groupStateChanged", GroupID: i.GroupInfo.GroupID, State: i.State.String(),
				GroupEvent: i.Event.String(), OperatedBy: i.OperatedBy, Group: groupLineOf(i.GroupInfo)})
		},
		GroupMemberStateChanged: func(i herald.GroupMemberStateChangedInfo) {
			_ = l.out.print(groupMemberStateLine{Event: "groupMemberStateChanged", GroupID: i.GroupID, State: i.State.String(),
				GroupEvent: i.Event.String(), UserIDs: i.UserIDs, OperatedBy: i.OperatedBy, MemberCount: i.MemberCount})
		},
		GroupMemberInfoUpdated: func(i herald.GroupMemberInfoUpdatedInfo) {
			_ = l.out.print(groupMemberInfoLine{Event: "groupMemberInfoUpdated", GroupID: i.GroupID,
				Members: memberLinesOf(i.Members), OperatedBy: i.OperatedBy})
		},
		CallInvitationReceived: func(i herald.CallInvitationReceivedInfo, callID string) {
			_ = l.out.print(callLine{Event: "callInvitationReceived", CallID: callID, Inviter: i.Inviter, Mode: i.Mode.String(),
				Timeout: int(i.Timeout / time.Second), Deadline: millis(i.Deadline), ExtendedData: i.ExtendedData,
				Users: callUserLinesOf(i.CallUserList)})
		},
		CallInvitationCancelled: func(i herald.CallInvitationCancelledInfo, callID string) {
			_ = l.out.print(callLine{Event: "callInvitationCancelled", CallID: callID, Inviter: i.Inviter, Mode: i.Mode.String(),
				ExtendedData: i.ExtendedData})
		},
		CallInvitationTimeout: func(i herald.CallInvitationTimeoutInfo, callID string) {
			_ = l.out.print(callLine{Event: "callInvitationTimeout", CallID: callID, Mode: i.Mode.String()})
		},
		CallUserStateChanged: func(i herald.CallUserStateChangeInfo) {
			_ = l.out.print(callLine{Event: "callUserStateChanged", CallID: i.CallID, Users: callUserLinesOf(i.CallUserList)})
		},
		CallInvitationEnded: func(i herald.CallInvitationEndedInfo) {
			_ = l.out.print(callLine{Event: "callInvitationEnded", CallID: i.CallID, OperatedBy: i.OperatedUserID,
				Mode: i.Mode.String(), ExtendedData: i.ExtendedData, EndedAt: millis(i.EndTime)})
		},
		GroupApplicationListChanged: func(as []herald.GroupApplicationInfo, _ herald.GroupApplicationListChangeAction) {
			for _, a := range as {
				line := applicationLineOf(a)
				line.Event = "groupApplicationListChanged"
				_ = l.out.print(line)
			}
		},
		GroupApplicationUpdated: func(i herald.GroupApplicationUpdatedInfo) {
			line := applicationLineOf(i.Application)
			line.Event = "groupApplicationUpdated"
			_ = l.out.print(line)
		},
		SyncDone: func(n int) {
			_ = l.out.print(syncDoneLine{Event: "syncDone", Count: n})
		},
		TokenWillExpire: func(secs int) {
			_ = l.out.print(tokenLine{Event: "tokenWillExpire", SecondsLeft: secs})
			if l.renew == nil {
				return
			}
			tok, err := l.renew()
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err = l.c.RenewToken(ctx, tok)
				cancel()
			}
			if err != nil {
				_ = l.out.print(tokenLine{Event: "tokenRenewFailed", Error: err.Error()})
				return
			}
			_ = l.out.print(tokenLine{Event: "tokenRenewed"})
		},
	}
}

func (l *listener) messages(msgs []herald.Message, info herald.MessageReceivedInfo, _ string) {
	for _, m := range msgs {
		line := messageLine{
			Event:            "message",
			ConversationID:   m.ConversationID,
			ConversationType: int(m.ConversationType),
			Sender:           m.SenderUserID,
			MessageID:        m.MessageID,
			LocalMessageID:   m.LocalMessageID,
			Seq:              m.ConversationSeq,
			Type:             int(m.Type),
			SubType:          m.SubType,
			Text:             m.Text,
			Data:             m.Data,
			Priority:         int(m.Priority),
			Offline:          info.IsOfflineMessage,
			Timestamp:        m.Timestamp.UnixMilli(),
		}
		_ = l.out.print(line)
	}
}

// millis is t in Unix milliseconds, 0 for the zero time.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
