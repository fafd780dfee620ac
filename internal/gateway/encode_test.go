package gateway

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
)

// strs are strings that exercise every escaping path of appendJSONString.
var strs = []string{"", "a", "bob", "hello world ~!", `quo"te`, `back\slash`, "<b>&amp;</b>", "tab\there",
	"nl\ncr\r", "\x00\x01\x1f\x7f", "ünïcödé", "日本語", "\u2028\u2029", "bad \xff utf8", "emoji 🎉", "\b\f"}

// The hand-written send reply and message frames are byte for byte what
// encodeFrame(typ, id, json.Marshal(v)) wrote before.
func TestEncodeFramesMatchJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pick := func() string { return strs[r.IntN(len(strs))] }
	num := func() int64 {
		switch r.IntN(3) {
		case 0:
			return 0
		case 1:
			return r.Int64N(10)
		}
		return r.Int64() - r.Int64()
	}
	for i := range 5000 {
		m := &im.Message{ID: num(), Seq: num(), CreatedAt: time.UnixMilli(num() % 1e15)}
		id := pick()
		wantReply, _ := json.Marshal(protocol.SendReply{MessageID: formatID(m.ID), ConversationSeq: m.Seq, Timestamp: m.CreatedAt.UnixMilli()})
		if got, want := appendSendReplyFrame(nil, id, m), encodeFrame(protocol.TypeReply, id, wantReply); string(got) != string(want) {
			t.Fatalf("case %d: send reply\n got %s\nwant %s", i, got, want)
		}

		w := protocol.Message{MessageID: pick(), LocalMessageID: pick(), ConversationID: pick(), ConversationType: int(num()),
			ConversationSeq: num(), SenderUserID: pick(), Type: int(num()), Text: pick(), SubType: int(num()),
			SearchedContent: pick(), ExtendedData: pick(), Priority: int(num()), Timestamp: num(),
			Offline: r.IntN(2) == 0, System: r.IntN(2) == 0}
		if r.IntN(2) == 0 {
			w.Data = []byte(pick())
		}
		if r.IntN(4) == 0 {
			w.RevokeFields = &protocol.RevokeFields{RevokeStatus: int(num()), RevokeTimestamp: num(), OperatedUserID: pick(),
				RevokeExtendedData: pick(), OriginalMessageType: int(num())}
		}
		if r.IntN(2) == 0 {
			w.MentionedUserIDs, w.IsMentionAll = []string{pick(), pick()}, r.IntN(2) == 0
		}
		body, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := appendMessageFrame(nil, &w), encodeFrame(protocol.EventMessage, "", body); string(got) != string(want) {
			t.Fatalf("case %d: message\n got %s\nwant %s", i, got, want)
		}
	}
}

// appendMessageFrame writes every field of protocol.Message: one added there
// must be added here too.
func TestMessageFrameFields(t *testing.T) {
	if n := reflect.TypeFor[protocol.Message]().NumField(); n != 19 {
		t.Fatalf("protocol.Message has %d fields; appendMessageFrame writes 19: update it and this test", n)
	}
}

func BenchmarkEncodeMessage(b *testing.B) {
	m := &im.Message{ID: 1234567890123, ConvID: "p:alice:bob", Seq: 4711, Sender: "alice", Recipient: "bob", Type: 1,
		Text: "hello there, this is a message of about a hundred bytes, which is what the load generator sends....", LocalID: "42",
		CreatedAt: time.UnixMilli(1_700_000_000_000)}
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			body, _ := json.Marshal(im.ToWire(m, "bob", false))
			_ = encodeFrame(protocol.EventMessage, "", body)
			r, _ := json.Marshal(protocol.SendReply{MessageID: formatID(m.ID), ConversationSeq: m.Seq, Timestamp: m.CreatedAt.UnixMilli()})
			_ = encodeFrame(protocol.TypeReply, "42", r)
		}
	})
	b.Run("append", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			w := im.ToWire(m, "bob", false)
			buf = appendMessageFrame(buf[:0], &w)
			buf = appendSendReplyFrame(buf[:0], "42", m)
		}
	})
}
