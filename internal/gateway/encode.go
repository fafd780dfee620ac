package gateway

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
)

// The two frames every message costs, the send reply and the delivery, are
// appended by hand into the writer's reused buffer: encoding/json's
// reflection, its result and encodeFrame's copy of it were a tenth of a
// writer's CPU per message. The output is byte for byte what
// encodeFrame(typ, id, json.Marshal(v)) writes (encode_test.go checks it).

// appendSendReplyFrame appends the reply to a committed send: the frame of
// protocol.SendReply{MessageID, ConversationSeq, Timestamp} for m.
func appendSendReplyFrame(b []byte, id string, m *im.Message) []byte {
	b = append(b, `{"type":"reply"`...)
	if id != "" {
		b = append(b, `,"id":`...)
		b = appendJSONString(b, id)
	}
	b = append(b, `,"data":{"messageID":"`...)
	b = strconv.AppendInt(b, m.ID, 10)
	b = append(b, '"')
	if m.Seq != 0 {
		b = append(b, `,"conversationSeq":`...)
		b = strconv.AppendInt(b, m.Seq, 10)
	}
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, m.CreatedAt.UnixMilli(), 10)
	return append(b, `}}`...)
}

// appendMessageFrame appends the "message" event of w, as json.Marshal
// encodes protocol.Message (field order and omitempty as declared there).
func appendMessageFrame(b []byte, w *protocol.Message) []byte {
	b = append(b, `{"type":"message","data":{"messageID":`...)
	b = appendJSONString(b, w.MessageID)
	if w.LocalMessageID != "" {
		b = append(b, `,"localMessageID":`...)
		b = appendJSONString(b, w.LocalMessageID)
	}
	b = append(b, `,"conversationID":`...)
	b = appendJSONString(b, w.ConversationID)
	b = append(b, `,"conversationType":`...)
	b = strconv.AppendInt(b, int64(w.ConversationType), 10)
	if w.ConversationSeq != 0 {
		b = append(b, `,"conversationSeq":`...)
		b = strconv.AppendInt(b, w.ConversationSeq, 10)
	}
	b = append(b, `,"senderUserID":`...)
	b = appendJSONString(b, w.SenderUserID)
	b = append(b, `,"type":`...)
	b = strconv.AppendInt(b, int64(w.Type), 10)
	if w.Text != "" {
		b = append(b, `,"text":`...)
		b = appendJSONString(b, w.Text)
	}
	if len(w.Data) > 0 {
		b = append(b, `,"data":"`...)
		b = base64.StdEncoding.AppendEncode(b, w.Data)
		b = append(b, '"')
	}
	if w.SubType != 0 {
		b = append(b, `,"subType":`...)
		b = strconv.AppendInt(b, int64(w.SubType), 10)
	}
	if w.SearchedContent != "" {
		b = append(b, `,"searchedContent":`...)
		b = appendJSONString(b, w.SearchedContent)
	}
	if w.ExtendedData != "" {
		b = append(b, `,"extendedData":`...)
		b = appendJSONString(b, w.ExtendedData)
	}
	b = append(b, `,"priority":`...)
	b = strconv.AppendInt(b, int64(w.Priority), 10)
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, w.Timestamp, 10)
	if w.Offline {
		b = append(b, `,"offline":true`...)
	}
	if w.System {
		b = append(b, `,"system":true`...)
	}
	if w.RevokeFields != nil {
		// A revoke marker (rare): its fields as json.Marshal writes them.
		if rb, err := json.Marshal(w.RevokeFields); err == nil && len(rb) > 2 {
			b = append(b, ',')
			b = append(b, rb[1:len(rb)-1]...)
		}
	}
	if len(w.MentionedUserIDs) > 0 {
		b = append(b, `,"mentionedUserIDs":[`...)
		for i, u := range w.MentionedUserIDs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, u)
		}
		b = append(b, ']')
	}
	if w.IsMentionAll {
		b = append(b, `,"isMentionAll":true`...)
	}
	return append(b, `}}`...)
}

// appendJSONString appends s as encoding/json quotes it. Printable ASCII
// that json escapes for neither JSON nor HTML is copied; anything else
// (control characters, quotes, backslashes, <, >, &, non-ASCII) goes
// through json.Marshal, so that the rare string is encoded by the one
// implementation.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
