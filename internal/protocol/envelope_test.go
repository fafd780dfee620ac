package protocol

import (
	"strings"
	"testing"
)

// TestDecodeEnvelope checks the envelope verdicts, well-formed and not, on
// both paths (the scanner and encoding/json), with the codes clients see.
func TestDecodeEnvelope(t *testing.T) {
	deep := `{"type":"ping","id":"1","x":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}`
	for _, tc := range []struct {
		name, in string
		code     Code // 0: accepted
		typ, id  string
		data     string
	}{
		{"send", `{"type":"send","id":"1","data":{"conversationID":"b","type":1}}`, 0, "send", "1", `{"conversationID":"b","type":1}`},
		{"spaces", " \n{ \"type\" : \"ping\" ,\t\"id\" : \"2\" } \r\n", 0, "ping", "2", ""},
		{"ack without id", `{"type":"ack","data":{"acks":[]}}`, 0, "ack", "", `{"acks":[]}`},
		{"keys fold case", `{"Type":"ping","ID":"3"}`, 0, "ping", "3", ""},
		{"last wins", `{"type":"send","id":"4","type":"ping","data":{"a":1},"data":[2]}`, 0, "ping", "4", `[2]`},
		{"null keeps", `{"type":"ping","id":"5","id":null}`, 0, "ping", "5", ""},
		{"data null", `{"type":"ping","id":"6","data":null}`, 0, "ping", "6", "null"},
		{"unknown members", `{"type":"ping","id":"7","x":{"y":[1,2.5,-3e-2,true,false,null,"\u00e9\"\\"]}}`, 0, "ping", "7", ""},
		{"escaped key", `{"typ\u0065":"ping","id":"8"}`, 0, "ping", "8", ""},
		{"escaped id", `{"type":"ping","id":"\u0039"}`, 0, "ping", "9", ""},
		{"deep", deep, 0, "ping", "1", ""},
		{"empty", ``, CodeBadFrame, "", "", ""},
		{"array", `[]`, CodeBadFrame, "", "", ""},
		{"null", `null`, CodeBadFrame, "", "", ""},
		{"empty object", `{}`, CodeBadFrame, "", "", ""},
		{"unterminated", `{"type":"ping","id":"1"`, CodeBadFrame, "", "", ""},
		{"trailing", `{"type":"ping","id":"1"}}`, CodeBadFrame, "", "", ""},
		{"trailing comma", `{"type":"ping","id":"1",}`, CodeBadFrame, "", "", ""},
		{"bad data", `{"type":"ping","id":"1","data":{"a":01}}`, CodeBadFrame, "", "", ""},
		{"bad member", `{"type":"ping","id":"1","x":tru}`, CodeBadFrame, "", "", ""},
		{"bad escape", `{"type":"ping","id":"1","x":"\q"}`, CodeBadFrame, "", "", ""},
		{"control char", "{\"type\":\"ping\",\"id\":\"1\",\"x\":\"\x01\"}", CodeBadFrame, "", "", ""},
		{"type not string", `{"type":1,"id":"1"}`, CodeBadFrame, "", "", ""},
		{"id not string", `{"type":"ping","id":7}`, CodeBadFrame, "", "", ""},
		{"error member", `{"type":"ping","id":"1","error":"x"}`, CodeBadFrame, "", "", ""},
		{"no type", `{"id":"1"}`, CodeBadFrame, "", "1", ""},
		{"unknown type", `{"type":"nope","id":"1"}`, CodeUnknownType, "nope", "1", ""},
		{"missing id", `{"type":"send","data":{}}`, CodeMissingID, "send", "", "{}"},
		{"long id", `{"type":"ping","id":"` + strings.Repeat("x", MaxIDLen+1) + `"}`, CodeInvalidArgument, "ping", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, perr := Decode([]byte(tc.in))
			checkSameAsStd(t, []byte(tc.in), f, perr)
			switch {
			case tc.code == 0 && perr != nil:
				t.Fatalf("rejected: %v", perr)
			case tc.code != 0 && (perr == nil || perr.Code != tc.code):
				t.Fatalf("error %v, want code %d", perr, tc.code)
			}
			if f.Type != tc.typ || f.ID != tc.id || string(f.Data) != tc.data {
				t.Fatalf("frame type %q id %q data %s, want %q %q %s", f.Type, f.ID, f.Data, tc.typ, tc.id, tc.data)
			}
		})
	}
}

// TestDecodeDataOnce checks that a payload the scanner kept decodes, and
// that a payload of the wrong shape gets the documented code.
func TestDecodeDataOnce(t *testing.T) {
	f, perr := Decode([]byte(`{"type":"send","id":"1","data":{"conversationID":"bob","localMessageID":"l","type":1,"text":"hi"}}`))
	if perr != nil {
		t.Fatal(perr)
	}
	var req SendRequest
	if perr := DecodeData(f, &req); perr != nil {
		t.Fatal(perr)
	}
	if req.ConversationID != "bob" || req.LocalMessageID != "l" || req.Type != 1 || req.Text != "hi" {
		t.Fatalf("decoded %+v", req)
	}
	f, perr = Decode([]byte(`{"type":"send","id":"1","data":{"conversationID":5}}`))
	if perr != nil {
		t.Fatal(perr)
	}
	if perr := DecodeData(f, &req); perr == nil || perr.Code != CodeBadFrame {
		t.Fatalf("wrong shape: %v", perr)
	}
}

var benchSend = []byte(`{"type":"send","id":"184","data":{"conversationID":"user-000123","conversationType":1,"localMessageID":"l-000123-000456","type":1,"text":"hello there, this is a benchmark message of ordinary length"}}`)

// BenchmarkDecodeSend measures decoding one send frame, envelope and
// payload, as the gateway does; BenchmarkDecodeSendStd the encoding/json
// path it replaces, for old/new in one run.
func BenchmarkDecodeSend(b *testing.B) {
	benchDecode(b, Decode)
}

func BenchmarkDecodeSendStd(b *testing.B) {
	benchDecode(b, decodeStd)
}

func benchDecode(b *testing.B, decode func([]byte) (Frame, *Error)) {
	b.ReportAllocs()
	for b.Loop() {
		f, perr := decode(benchSend)
		if perr != nil {
			b.Fatal(perr)
		}
		var req SendRequest
		if perr := DecodeData(f, &req); perr != nil {
			b.Fatal(perr)
		}
	}
}
