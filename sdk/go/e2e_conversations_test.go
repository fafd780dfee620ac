package herald

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/testkit"
)

// TestE2EConversationNotificationStatusAndMentions: a status set on one
// device reaches the user's other device as ConversationChanged and is in
// the conversation list; mentionsOnly on a peer is refused; a group
// message's mention list arrives with the message.
func TestE2EConversationNotificationStatusAndMentions(t *testing.T) {
	srv := testkit.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	phone, _ := newE2EClient(t, srv, "phone", func(c *Config) { c.Platform = "ios" })
	desktop, _ := newE2EClient(t, srv, "desktop", func(c *Config) { c.Platform = "macos" })
	changed := make(chan []ConversationChangeInfo, 4)
	desktop.SetEventHandler(EventHandler{ConversationChanged: func(l []ConversationChangeInfo) { changed <- l }})
	bob, _ := newE2EClient(t, srv, "b", nil)
	groupMsgs := make(chan Message, 4)
	bob.SetEventHandler(EventHandler{ReceiveGroupMessage: func(ms []Message, _ MessageReceivedInfo, _ string) {
		for _, m := range ms {
			groupMsgs <- m
		}
	}})
	e2eLogin(t, srv, phone, "alice")
	e2eLogin(t, srv, desktop, "alice")
	e2eLogin(t, srv, bob, "bob")
	sendText(t, bob, "alice", "hello")

	if err := phone.SetConversationNotificationStatus(ctx, ConversationNotificationStatusDoNotDisturb, "bob", ConversationTypePeer); err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-changed:
		if len(l) != 1 || l[0].Event != ConversationEventUpdated || l[0].Conversation.ConversationID != "bob" ||
			l[0].Conversation.NotificationStatus != ConversationNotificationStatusDoNotDisturb {
			t.Fatalf("desktop got %+v", l)
		}
	case <-ctx.Done():
		t.Fatal("no ConversationChanged on the other device")
	}
	cs, err := desktop.QueryConversationList(ctx, ConversationQueryConfig{})
	if err != nil || len(cs) != 1 || cs[0].NotificationStatus != ConversationNotificationStatusDoNotDisturb {
		t.Fatalf("list %+v %v", cs, err)
	}
	var e *Error
	err = phone.SetConversationNotificationStatus(ctx, ConversationNotificationStatusMentionsOnly, "bob", ConversationTypePeer)
	if !errors.As(err, &e) || e.Code != CodeInvalidNotifyStatus {
		t.Fatalf("mentionsOnly on a peer: %v", err)
	}

	if _, err := phone.CreateGroup(ctx, GroupInfo{GroupID: "team", GroupName: "Team"}, []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	m := NewTextMessage("@bob look")
	m.MentionedUserIDs = []string{"bob"}
	if _, err := phone.SendMessage(ctx, m, "team", ConversationTypeGroup, MessageSendConfig{
		PushConfig: &PushConfig{Title: "Team", Content: "look", EnableBadge: true, BadgeIncrement: 1}}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-groupMsgs:
		if fmt.Sprint(got.MentionedUserIDs) != "[bob]" || got.IsMentionAll {
			t.Fatalf("bob got %+v", got)
		}
	case <-ctx.Done():
		t.Fatal("bob got no group message")
	}
	bad := NewTextMessage("x")
	bad.MentionedUserIDs = []string{"bob"}
	_, err = phone.SendMessage(ctx, bad, "bob", ConversationTypePeer, MessageSendConfig{})
	if !errors.As(err, &e) || e.Code != CodeInvalidMention {
		t.Fatalf("mention in a peer message: %v", err)
	}
}
