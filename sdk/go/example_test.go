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
