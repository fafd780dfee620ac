package protocol

import (
	"bytes"
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
		`{"TYPE":"ping","Id":"7","x":[1,-2.5e3,true,null,{"a":"\u00e9\n"}]}`,
		`{"type":"ping","id":"8","data":null,"type":null}`, `{"type":"send","id":"9","data":{"a":01}}`,
		`{"typ\u0065":"ping","id":"10"}`, `{"type":"ping","id":"11","error":{"code":1}}`,
		`{"type":"ping","id":"12"}}`, `{"type":"ping","id":"\u00e9"}`, `{"type":"ping","id":"13",}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, perr := Decode(b)
		checkSameAsStd(t, b, fr, perr)
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

// checkSameAsStd fails t unless Decode's verdict on b (fr, perr) is the one
// encoding/json gives: the same frame and the same error, when b is an
// object at all.
func checkSameAsStd(t *testing.T, b []byte, fr Frame, perr *Error) {
	t.Helper()
	tb := bytes.TrimSpace(b)
	if len(tb) == 0 || tb[0] != '{' {
		return
	}
	want, werr := decodeStd(tb)
	if fr.Type != want.Type || fr.ID != want.ID || !bytes.Equal(fr.Data, want.Data) || (fr.Error == nil) != (want.Error == nil) {
		t.Fatalf("%q: frame %+v, encoding/json gives %+v", b, fr, want)
	}
	if (perr == nil) != (werr == nil) || perr != nil && (perr.Code != werr.Code || perr.Message != werr.Message) {
		t.Fatalf("%q: error %v, encoding/json gives %v", b, perr, werr)
	}
}
