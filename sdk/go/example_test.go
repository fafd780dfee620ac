package herald_test

import (
	"context"
	"fmt"
	"log"
	"time"

	herald "github.com/heraldim/herald/sdk/go"
)

func Example() {
	// The token comes from the app's backend; GenerateToken is how a Go
	// backend (or a tool) mints one.
	tok, err := herald.GenerateToken("dev-4f2a", "server-secret", "alice", 24*time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	c, err := herald.Create(herald.Config{
		Server:   "ws://127.0.0.1:8080",
		AppID:    "dev-4f2a",
		DeviceID: "alice-laptop", // stable per installation
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Destroy()
	c.SetEventHandler(herald.EventHandler{
		ConnectionStateChanged: func(st herald.ConnectionState, ev herald.ConnectionEvent, _ map[string]any) {
			fmt.Println("connection:", st, ev)
		},
		ReceivePeerMessage: func(msgs []herald.Message, info herald.MessageReceivedInfo, from string) {
			for _, m := range msgs {
				fmt.Printf("%s #%d: %s (offline %v)\n", from, m.ConversationSeq, m.Text, info.IsOfflineMessage)
			}
		},
	})
	ctx := context.Background()
	if err := c.Login(ctx, "alice", tok); err != nil {
		log.Fatal(err)
	}
	sent, err := c.SendMessage(ctx, herald.NewTextMessage("hello"), "bob", herald.ConversationTypePeer, herald.MessageSendConfig{
		Priority:   herald.MessagePriorityHigh,
		PushConfig: &herald.PushConfig{Title: "Alice", Content: "hello"},
	})
	if err != nil {
		log.Fatal(err) // *herald.Error carries the server's code
	}
	fmt.Println("stored as", sent.MessageID, "seq", sent.ConversationSeq)
	if err := c.Logout(ctx); err != nil {
		log.Fatal(err)
	}
}

func ExampleClient_CreateGroup() {
	var c *herald.Client // logged in as alice
	ctx := context.Background()
	c.SetEventHandler(herald.EventHandler{
		ReceiveGroupMessage: func(msgs []herald.Message, _ herald.MessageReceivedInfo, groupID string) {
			for _, m := range msgs {
				fmt.Printf("%s in %s: %s\n", m.SenderUserID, groupID, m.Text)
			}
		},
		GroupMemberStateChanged: func(i herald.GroupMemberStateChangedInfo) {
			fmt.Println(i.GroupID, i.State, i.Event, i.UserIDs)
		},
	})
	// Members must have logged in to the app once.
	g, err := c.CreateGroup(ctx, herald.GroupInfo{GroupID: "team", GroupName: "Team"}, []string{"bob", "carol"})
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.SendMessage(ctx, herald.NewTextMessage("hello team"), g.GroupID, herald.ConversationTypeGroup, herald.MessageSendConfig{
		PushConfig: &herald.PushConfig{Title: g.GroupName, Content: "alice: hello team"},
	})
	if err != nil {
		log.Fatal(err)
	}
}

func ExampleClient_CallInvite() {
	var c *herald.Client // logged in as alice
	ctx := context.Background()
	c.SetEventHandler(herald.EventHandler{
		CallUserStateChanged: func(i herald.CallUserStateChangeInfo) {
			for _, u := range i.CallUserList {
				fmt.Println(i.CallID, u.UserID, u.State) // e.g. accepted
			}
		},
	})
	res, err := c.CallInvite(ctx, []string{"bob"}, herald.CallInviteConfig{
		Timeout:    30 * time.Second,
		PushConfig: &herald.PushConfig{Title: "Alice", Content: "incoming call"},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range res.ErrorInvitees {
		fmt.Println("not invited:", e.UserID, e.Code)
	}
	// Bob's client, on EventHandler.CallInvitationReceived, calls
	// CallAccept(ctx, callID, herald.CallAnswerConfig{}) or CallReject.
	_, _ = c.CallCancel(ctx, nil, res.CallID, herald.CallCancelConfig{})
}
