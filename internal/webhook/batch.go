package webhook

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// A message.sent batch row names every message of one commit for one app:
// its payload is their IDs, encoded by EncodeIDs. The worker delivers them
// in order, one request per message as for a single event; each message's
// event ID is MessageEventID of its message, whatever row carries it.

// EncodeIDs encodes message IDs compactly: each as a signed varint of its
// difference to the previous one (server message IDs are time-ordered, so
// a batch's are close: two or three bytes each).
func EncodeIDs(ids []int64) []byte {
	b := make([]byte, 0, 3*len(ids))
	var prev int64
	for _, id := range ids {
		b = binary.AppendVarint(b, id-prev)
		prev = id
	}
	return b
}

// DecodeIDs reverses EncodeIDs.
func DecodeIDs(b []byte) ([]int64, error) {
	var ids []int64
	var prev int64
	for len(b) > 0 {
		d, n := binary.Varint(b)
		if n <= 0 {
			return nil, errors.New("webhook: bad message ID list")
		}
		prev += d
		ids = append(ids, prev)
		b = b[n:]
	}
	return ids, nil
}

// MessageEventID is the event ID of a message's message.sent event written
// as part of a batch (and of the row split off from it): "evt_m" and the
// message ID. Unique (a message is stored once) and the same on every
// attempt.
func MessageEventID(messageID int64) string { return "evt_m" + strconv.FormatInt(messageID, 10) }

// RowEventID is the event ID receivers see for r: MessageEventID for a
// message of a batch, EventID of the row otherwise (every other event, and
// message.sent rows written one per message before batches).
func RowEventID(r Row) string {
	if r.BatchID != 0 {
		return MessageEventID(r.MessageID)
	}
	return EventID(r.ID)
}

// Split is a message of a batch given its own row: its delivery failed
// (Outcome pending or dead), or it succeeded only after failed attempts
// (delivered, keeping the true count for the listing).
type Split struct {
	MessageID int64
	Outcome
}
