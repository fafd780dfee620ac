package herald

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/heraldim/herald/internal/testkit"
)

// TestE2EHistoryReverse pages forward and back through a group's history
// as a member that joined after the first messages: both directions show
// only what was sent after its join.
func TestE2EHistoryReverse(t *testing.T) {
	srv := testkit.Start(t, nil)
	ctx := context.Background()
	alice, _ := newE2EClient(t, srv, "alice-dev", nil)
	e2eLogin(t, srv, alice, "alice")
	dave, _ := newE2EClient(t, srv, "dave-dev", nil)
	e2eLogin(t, srv, dave, "dave")
	open := GroupJoinModeAny
	if _, err := alice.CreateGroupWithConfig(ctx, GroupInfo{GroupID: "team", GroupName: "Team"}, nil, GroupAdvancedConfig{JoinMode: &open}); err != nil {
		t.Fatal(err)
	}
	send := func(from, to int) {
		t.Helper()
		for i := from; i <= to; i++ {
			if _, err := alice.SendMessage(ctx, NewTextMessage(fmt.Sprint("m", i)), "team", ConversationTypeGroup, MessageSendConfig{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(1, 3)
	if _, err := dave.JoinGroup(ctx, "team"); err != nil {
		t.Fatal(err)
	}
	send(4, 8)

	texts := func(ms []Message) []string {
		out := []string{}
		for _, m := range ms {
			out = append(out, m.Text)
		}
		return out
	}
	// page walks the history with config until an empty page.
	page := func(c *Client, config HistoryQueryConfig) [][]string {
		var pages [][]string
		for range 10 {
			ms, err := c.QueryHistoryMessage(ctx, "team", ConversationTypeGroup, config)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) == 0 {
				return pages
			}
			pages = append(pages, texts(ms))
			config.NextMessage = &ms[len(ms)-1]
		}
		t.Fatal("paging does not end")
		return nil
	}
	tests := []struct {
		name   string
		c      *Client
		config HistoryQueryConfig
		want   [][]string
	}{
		{"late member forward", dave, HistoryQueryConfig{Count: 2, Reverse: true}, [][]string{{"m4", "m5"}, {"m6", "m7"}, {"m8"}}},
		{"late member backward", dave, HistoryQueryConfig{Count: 2}, [][]string{{"m8", "m7"}, {"m6", "m5"}, {"m4"}}},
		{"late member forward from its second message", dave, HistoryQueryConfig{Count: 10, Reverse: true, NextMessage: &Message{ConversationSeq: 5}}, [][]string{{"m6", "m7", "m8"}}},
		{"owner forward", alice, HistoryQueryConfig{Count: 3, Reverse: true}, [][]string{{"m1", "m2", "m3"}, {"m4", "m5", "m6"}, {"m7", "m8"}}},
	}
	for _, tt := range tests {
		if got := page(tt.c, tt.config); !slices.EqualFunc(got, tt.want, slices.Equal) {
			t.Errorf("%s: pages %q, want %q", tt.name, got, tt.want)
		}
	}
}
