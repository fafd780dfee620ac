package protocol

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// sendStart is a request already holding values, so that the tests see what
// each path leaves of fields the payload does not name (or names as null).
var sendStart = SendRequest{ConversationID: "old", Type: 7, Text: "keep", Data: []byte{1},
	PushConfig: &PushConfig{Title: "t"}}

// checkSendSameAsStd decodes b both ways from sendStart and fails when the
// fast path accepted b with a result encoding/json does not give, or
// changed the request while refusing it.
func checkSendSameAsStd(t *testing.T, b []byte) (fast bool) {
	t.Helper()
	std := sendStart
	stdErr := json.Unmarshal(b, &std)
	got := sendStart
	fast = decodeSend(b, &got)
	switch {
	case !fast && !reflect.DeepEqual(got, sendStart):
		t.Fatalf("%q: refused but changed the request: %+v", b, got)
	case fast && stdErr != nil:
		t.Fatalf("%q: accepted, encoding/json says %v", b, stdErr)
	case fast && !reflect.DeepEqual(got, std):
		t.Fatalf("%q: decoded %+v, encoding/json %+v", b, got, std)
	}
	return fast
}

// TestDecodeSend checks which payloads the fast path takes on and that each
// decodes as encoding/json decodes it.
func TestDecodeSend(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		fast     bool
	}{
		{"usual", `{"conversationID":"bob","conversationType":0,"localMessageID":"l-1","type":1,"text":"hello"}`, true},
		{"every plain field", `{"conversationID":"g","conversationType":2,"localMessageID":"l","type":200,"text":"t",` +
			`"subType":3,"searchedContent":"s","extendedData":"{}","priority":3}`, true},
		{"spaces", " { \"text\" :\t\"a\" ,\n\"type\" : -12 } \r\n", true},
		{"empty", `{}`, true},
		{"keys fold case", `{"ConversationId":"bob","TYPE":1,"Text":"x"}`, true},
		{"last wins", `{"text":"a","text":"b","type":1,"type":2}`, true},
		{"nulls keep", `{"conversationID":null,"type":null,"text":null}`, true},
		{"null data and push config", `{"data":null,"pushConfig":null}`, true},
		{"utf-8", `{"text":"你好, héllo 👋"}`, true},
		{"unknown members", `{"x":{"y":[1,2.5,-3e-2,true,false,null,"\u00e9\"\\"]},"text":"a"}`, true},
		{"zero and negative zero", `{"type":0,"priority":-0}`, true},
		{"18 digits", `{"type":999999999999999999}`, true},
		{"escape in value", `{"text":"a\nb"}`, false},
		{"escape in key", `{"t\u0065xt":"a"}`, false},
		{"non-ASCII key", `{"téxt":"a"}`, false},
		{"invalid utf-8", "{\"text\":\"a\xffb\"}", false},
		{"data", `{"data":"AAEC"}`, false},
		{"push config", `{"pushConfig":{"title":"x"}}`, false},
		{"fraction", `{"type":1.0}`, false},
		{"exponent", `{"type":1e2}`, false},
		{"19 digits", `{"type":1000000000000000000}`, false},
		{"out of range", `{"type":99999999999999999999}`, false},
		{"string for int", `{"type":"1"}`, false},
		{"int for string", `{"text":1}`, false},
		{"bool for int", `{"type":true}`, false},
		{"array", `[]`, false},
		{"null payload", `null`, false},
		{"trailing", `{"text":"a"}x`, false},
		{"trailing comma", `{"text":"a",}`, false},
		{"unterminated", `{"text":"a"`, false},
		{"leading zero", `{"type":01}`, false},
		{"control char", "{\"text\":\"a\x01\"}", false},
		{"bad unknown member", `{"x":tru}`, false},
		{"mention all", `{"isMentionAll":true,"mentionedUserIDs":null}`, true},
		{"mention all false", `{"isMentionAll":false}`, true},
		{"mention list", `{"mentionedUserIDs":["bob"],"isMentionAll":true}`, false},
		{"int for bool", `{"isMentionAll":1}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if fast := checkSendSameAsStd(t, []byte(tc.in)); fast != tc.fast {
				t.Fatalf("fast path %v, want %v", fast, tc.fast)
			}
		})
	}
}

// TestSendRequestFields: decodeSend reads every field of SendRequest (or
// leaves it to encoding/json): a field added there must be added to
// decodeSend too, or the fast path would silently skip it as unknown.
func TestSendRequestFields(t *testing.T) {
	if n := reflect.TypeFor[SendRequest]().NumField(); n != 13 {
		t.Fatalf("SendRequest has %d fields; decodeSend knows 13: add the new one to it, to TestDecodeSend, and here", n)
	}
}

// TestDecodeDataSend checks DecodeData's verdicts for send payloads on both
// paths: decoded, or rejected with the documented code.
func TestDecodeDataSend(t *testing.T) {
	for _, tc := range []struct {
		in   string
		code Code
	}{
		{`{"conversationID":"bob","type":1,"text":"hi"}`, 0},
		{`{"conversationID":"bob","type":1,"text":"h\u0069"}`, 0},
		{`{"conversationID":"bob","type":1.5}`, CodeBadFrame},
		{`{"conversationID":5}`, CodeBadFrame},
	} {
		var req SendRequest
		perr := DecodeData(Frame{Type: TypeSend, ID: "1", Data: []byte(tc.in)}, &req)
		switch {
		case tc.code == 0 && (perr != nil || req.ConversationID != "bob" || req.Type != 1):
			t.Fatalf("%s: %v, %+v", tc.in, perr, req)
		case tc.code != 0 && (perr == nil || perr.Code != tc.code):
			t.Fatalf("%s: %v, want code %d", tc.in, perr, tc.code)
		}
	}
}

// FuzzDecodeSend compares the fast path with encoding/json on any payload.
func FuzzDecodeSend(f *testing.F) {
	for _, s := range []string{
		`{"conversationID":"bob","conversationType":0,"localMessageID":"l","type":1,"text":"hi"}`,
		`{"conversationID":"g","type":200,"data":"AAEC","subType":3,"pushConfig":{"title":"t"},"priority":2}`,
		`{"Text":"a","TEXT":"b","x":[1,{"y":null}],"type":-0}`, `{"type":1e3}`, `{}`, `[]`, `null`, ` {"text":"é"} `,
		`{"text":null,"type":null,"data":null}`, `{"type":123456789012345678901}`, "{\"text\":\"\xc3\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkSendSameAsStd(t, b)
	})
}

// BenchmarkDecodeSendPayload measures decoding the payload of benchSend
// alone; BenchmarkDecodeSendPayloadStd with encoding/json, for old/new in
// one run.
func BenchmarkDecodeSendPayload(b *testing.B) {
	benchSendPayload(b, decodeSend)
}

func BenchmarkDecodeSendPayloadStd(b *testing.B) {
	benchSendPayload(b, func(p []byte, r *SendRequest) bool { return json.Unmarshal(p, r) == nil })
}

func benchSendPayload(b *testing.B, decode func([]byte, *SendRequest) bool) {
	f, perr := Decode(benchSend)
	if perr != nil {
		b.Fatal(perr)
	}
	if !strings.HasPrefix(string(f.Data), "{") {
		b.Fatalf("payload %s", f.Data)
	}
	b.ReportAllocs()
	for b.Loop() {
		var req SendRequest
		if !decode(f.Data, &req) {
			b.Fatal("not decoded")
		}
	}
}
