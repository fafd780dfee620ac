package im

import (
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
)

// Outgoing is a message to send (Send, SendAs) or to import (Import), as
// its sender gave it. ConversationID is seen from the sender: for a peer
// conversation, the recipient's user ID; for a group, the group's ID.
// Text carries a text message's body, Data the body of custom and command
// messages.
type Outgoing struct {
	ConversationID  string
	ConvType        int
	LocalID         string
	Type            int
	SubType         int
	Text            string
	Data            []byte
	SearchedContent string
	ExtendedData    string
	Priority        int
	// PushConfig asks for an offline push to recipients without a live
	// session (nil: none).
	PushConfig *push.Content
	// MentionedUserIDs and MentionAll are the mention list (groups only;
	// Validate keeps each ID once).
	MentionedUserIDs []string
	MentionAll       bool
}

// OutgoingFrom is the message of a wire send request, for the entry points
// that take one (the gateway's send, the server API's): the one
// conversion, the inverse of what Validate builds.
func OutgoingFrom(r *protocol.SendRequest) Outgoing {
	o := Outgoing{
		ConversationID: r.ConversationID, ConvType: r.ConversationType, LocalID: r.LocalMessageID,
		Type: r.Type, SubType: r.SubType, Text: r.Text, Data: r.Data,
		SearchedContent: r.SearchedContent, ExtendedData: r.ExtendedData, Priority: r.Priority,
		MentionedUserIDs: r.MentionedUserIDs, MentionAll: r.IsMentionAll,
	}
	if r.PushConfig != nil {
		c := push.Content(*r.PushConfig)
		o.PushConfig = &c
	}
	return o
}

// Validate checks o against the send rules of package protocol
// (protocol.ValidateSend: the same codes and messages as a WebSocket
// send) and normalises its priority (0 becomes medium).
func (o *Outgoing) Validate() *protocol.Error {
	r := protocol.SendRequest{
		ConversationID:   o.ConversationID,
		ConversationType: o.ConvType,
		LocalMessageID:   o.LocalID,
		Type:             o.Type,
		Text:             o.Text,
		Data:             o.Data,
		SubType:          o.SubType,
		SearchedContent:  o.SearchedContent,
		ExtendedData:     o.ExtendedData,
		Priority:         o.Priority,
		MentionedUserIDs: o.MentionedUserIDs,
		IsMentionAll:     o.MentionAll,
	}
	if o.PushConfig != nil {
		pc := protocol.PushConfig(*o.PushConfig)
		r.PushConfig = &pc
	}
	if err := protocol.ValidateSend(&r); err != nil {
		return err
	}
	o.Priority = r.Priority
	o.MentionedUserIDs = r.MentionedUserIDs
	return nil
}
