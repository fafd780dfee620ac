package protocol

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestOrderKeyJSON(t *testing.T) {
	const big = 304753038213173249 // above 2^53: a float64 would round it
	b, err := json.Marshal(Conversation{OrderKey: big})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"orderKey":"304753038213173249"`)) {
		t.Fatalf("orderKey not a decimal string: %s", b)
	}
	for _, tc := range []struct {
		in   string
		want OrderKey
		ok   bool
	}{
		{`{"before":"304753038213173249"}`, big, true},
		{`{"before":304753038213173249}`, big, true},
		{`{"before":0}`, 0, true},
		{`{}`, 0, true},
		{`{"before":"12x"}`, 0, false},
		{`{"before":1.5}`, 0, false},
		{`{"before":true}`, 0, false},
	} {
		var req ConversationListRequest
		err := json.Unmarshal([]byte(tc.in), &req)
		if (err == nil) != tc.ok || req.Before != tc.want {
			t.Errorf("%s: before=%d err=%v, want %d ok=%v", tc.in, req.Before, err, tc.want, tc.ok)
		}
	}
}
