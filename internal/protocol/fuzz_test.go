package protocol

import (
	"encoding/json"
	"testing"
)

// FuzzDecode feeds arbitrary bytes through everything the server does with a
// client frame before it reaches a handler: the envelope, every payload type
// and send validation. It must never panic, and its verdicts must be stable:
// an accepted frame keeps its type and ID, a rejected one carries a
// catalogued code.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"login","id":"1","data":{"appID":"a","userID":"u","token":"t","platform":"ios","deviceID":"d"}}`,
		`{"type":"send","id":"2","data":{"conversationID":"bob","localMessageID":"l","type":1,"text":"hi"}}`,
		`{"type":"send","id":"3","data":{"conversationID":"bob","localMessageID":"l","type":200,"data":"AAEC","subType":3,"pushConfig":{"title":"t"}}}`,
		`{"type":"ack","data":{"acks":[{"conversationID":"bob","seq":5}]}}`,
		`{"type":"history","id":"4","data":{"conversationID":"bob","beforeSeq":10,"count":20}}`,
		`{"type":"sync","id":"5","data":{"positions":[{"conversationID":"bob","seq":1}]}}`,
		`{"type":"ping","id":"6"}`, `[]`, `{}`, `null`, `{"type":1}`, "\x00\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, perr := Decode(b)
		if perr != nil {
			if _, ok := catalogue[perr.Code]; !ok {
				t.Fatalf("uncatalogued code %d", perr.Code)
			}
			return
		}
		if !knownTypes[fr.Type] || len(fr.ID) > MaxIDLen {
			t.Fatalf("accepted frame of type %q id %q", fr.Type, fr.ID)
		}
		payloads := []any{&LoginRequest{}, &SendRequest{}, &AckRequest{}, &SyncRequest{},
			&HistoryRequest{}, &ConversationListRequest{}, &MarkReadRequest{}, &RenewTokenRequest{}}
		for _, p := range payloads {
			if e := DecodeData(fr, p); e != nil && e.Code != CodeBadFrame {
				t.Fatalf("DecodeData code %d", e.Code)
			}
		}
		var sr SendRequest
		if DecodeData(fr, &sr) == nil {
			before, _ := json.Marshal(sr)
			if e := ValidateSend(&sr); e == nil {
				if sr.Priority < PriorityLow || sr.Priority > PriorityHigh {
					t.Fatalf("valid send with priority %d", sr.Priority)
				}
				if sr.Type == MessageText && len(sr.Text) > MaxTextBytes {
					t.Fatalf("valid text of %d bytes", len(sr.Text))
				}
			} else if _, ok := catalogue[e.Code]; !ok {
				t.Fatalf("uncatalogued code %d from ValidateSend of %s", e.Code, before)
			}
		}
	})
}
