package protocol

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestValidUserID(t *testing.T) {
	for id, want := range map[string]bool{
		"alice": true, "A_b-c.d@e+f=g": true, "0": true, strings.Repeat("x", 64): true,
		"": false, strings.Repeat("x", 65): false, "a b": false, "a:b": false, "ä": false, "a/b": false, "a\x00": false,
	} {
		if got := ValidUserID(id); got != want {
			t.Errorf("ValidUserID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestValidateSend(t *testing.T) {
	ok := func() SendRequest {
		return SendRequest{ConversationID: "bob", LocalMessageID: "l1", Type: MessageText, Text: "hi"}
	}
	cases := []struct {
		name string
		mod  func(*SendRequest)
		want Code // 0: valid
	}{
		{"text", func(*SendRequest) {}, 0},
		{"text at limit", func(r *SendRequest) { r.Text = strings.Repeat("a", MaxTextBytes) }, 0},
		{"text over limit", func(r *SendRequest) { r.Text = strings.Repeat("a", MaxTextBytes+1) }, CodeMessageTooLarge},
		{"text not utf8", func(r *SendRequest) { r.Text = "\xff" }, CodeInvalidArgument},
		{"text with data", func(r *SendRequest) { r.Data = []byte{1} }, CodeInvalidArgument},
		{"custom", func(r *SendRequest) { r.Type, r.Text, r.Data = MessageCustom, "", []byte{0} }, 0},
		{"custom over limit", func(r *SendRequest) { r.Type, r.Text, r.Data = MessageCustom, "", make([]byte, MaxCustomBytes+1) }, CodeMessageTooLarge},
		{"command without local id", func(r *SendRequest) { r.Type, r.Text, r.Data, r.LocalMessageID = MessageCommand, "", []byte{1}, "" }, 0},
		{"group", func(r *SendRequest) { r.ConversationType = ConversationGroup }, 0},
		{"group id bad", func(r *SendRequest) { r.ConversationType, r.ConversationID = ConversationGroup, "g:1" }, CodeInvalidArgument},
		{"conversation type unknown", func(r *SendRequest) { r.ConversationType = 1 }, CodeInvalidConversation},
		{"local id with space", func(r *SendRequest) { r.LocalMessageID = "a b" }, CodeInvalidArgument},
		{"local id too long", func(r *SendRequest) { r.LocalMessageID = strings.Repeat("a", MaxLocalIDLen+1) }, CodeInvalidArgument},
		{"priority high", func(r *SendRequest) { r.Priority = PriorityHigh }, 0},
		{"priority negative", func(r *SendRequest) { r.Priority = -1 }, CodeInvalidPriority},
		{"negative subtype", func(r *SendRequest) { r.SubType = -1 }, CodeInvalidArgument},
		{"extended data too long", func(r *SendRequest) { r.ExtendedData = strings.Repeat("a", MaxExtendedDataBytes+1) }, CodeInvalidArgument},
		{"push ok", func(r *SendRequest) {
			r.PushConfig = &PushConfig{Title: "t", Content: "c", Payload: "p", ResourcesID: "res-1"}
		}, 0},
		{"push payload too long", func(r *SendRequest) { r.PushConfig = &PushConfig{Payload: strings.Repeat("a", MaxPushPayloadBytes+1)} }, CodeInvalidPushConfig},
		{"push resource id bad", func(r *SendRequest) { r.PushConfig = &PushConfig{ResourcesID: "a b"} }, CodeInvalidPushConfig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ok()
			tc.mod(&r)
			err := ValidateSend(&r)
			switch {
			case tc.want == 0 && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != 0 && (err == nil || err.Code != tc.want):
				t.Fatalf("got %v, want code %d", err, tc.want)
			case tc.want == 0 && r.Priority == 0:
				t.Fatal("priority 0 was not normalised to medium")
			}
		})
	}
}

func TestCloseReconnects(t *testing.T) {
	for code, want := range map[int]bool{
		CloseLoggedOut: false, CloseKicked: false, CloseTokenExpired: false, CloseAppDisabled: false,
		CloseHeartbeatTimeout: true, CloseSlow: true, CloseLoginTimeout: true, CloseServerRestart: true, CloseInternal: true,
	} {
		if got := CloseReconnects(code); got != want {
			t.Errorf("CloseReconnects(%d) = %v, want %v", code, got, want)
		}
	}
}

// TestCatalogueDocumented keeps docs/protocol.md in step with the code: every
// error code with its name, and every close code, appear there.
func TestCatalogueDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, c := range Codes() {
		if !strings.Contains(doc, fmt.Sprintf("| %d | `%s` |", c, c.Name())) {
			t.Errorf("docs/protocol.md lacks the row for %d %s", c, c.Name())
		}
	}
	for _, c := range []int{CloseLoggedOut, CloseKicked, CloseHeartbeatTimeout, CloseSlow, CloseTokenExpired, CloseLoginTimeout, CloseServerRestart, CloseTooBig, CloseInternal, CloseTokenRevoked, CloseKickedByServer, CloseAppDisabled} {
		if !strings.Contains(doc, fmt.Sprintf("| %d |", c)) {
			t.Errorf("docs/protocol.md lacks close code %d", c)
		}
	}
	for typ := range knownTypes {
		if !strings.Contains(doc, "`"+typ+"`") {
			t.Errorf("docs/protocol.md does not describe request type %s", typ)
		}
	}
}
