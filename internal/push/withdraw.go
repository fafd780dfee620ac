package push

import (
	"context"
	"encoding/json"
	"strconv"
)

// Withdrawing a revoked message's notifications. A message's push and the
// push that withdraws it (JobMessageWithdraw, planned when the message is
// revoked) share one replace key, the message's collapse ID
// (MessageCollapseID), exactly as a call's ring and its withdraw share
// CallCollapseID: the withdraw replaces the notification in the vendor's
// storage (not yet delivered) and in the phone's tray (shown). Each
// provider maps the collapse ID to its vendor's replace key
// (Notification.CollapseID): APNs apns-collapse-id, FCM collapse_key and
// notification tag, Huawei notify_id and tag, Xiaomi, OPPO and vivo their
// notify id, HarmonyOS notifyId, Honor notifyId and tag, Web Push the
// Topic header and the message's tag. docs/protocol.md ("Message revoke") has the table of what
// each vendor does with it.

// MessageExtraKey is the key of the message ID in a message push's and
// its withdraw's custom data (Notification.Extra); a withdraw also
// carries RevokedExtraKey "1", so that the app can tell it and remove
// what it showed itself for a data push.
const (
	MessageExtraKey = "messageID"
	RevokedExtraKey = "revoked"
)

// MessageCollapseID is the replace key of every push of message id: its
// push and the push that withdraws it. "msg-" and the decimal ID: at most
// 23 bytes, within every vendor's limit.
func MessageCollapseID(id int64) string { return "msg-" + strconv.FormatInt(id, 10) }

// messageKey gives a message's push, and its withdraw, the message's
// collapse ID and ID (a push of the admin API, MessageID 0, has none).
func messageKey(n *Notification, j Job) {
	if j.MessageID == 0 || (j.Kind != JobMessage && j.Kind != JobMessageWithdraw) {
		return
	}
	if n.Extra == nil {
		n.Extra = map[string]string{}
	}
	n.Extra[MessageExtraKey] = strconv.FormatInt(j.MessageID, 10)
	if j.Kind == JobMessageWithdraw {
		n.Extra[RevokedExtraKey] = "1"
	}
	n.CollapseID = MessageCollapseID(j.MessageID)
}

// DecodeRemove reads the "remove" member of a stored push config: set on
// the withdraw of a revoke without a pushConfig whose message was pushed
// as a notification (a title or a content), it asks that the shown
// notification be removed where the vendor can (Revoker). It is kept out
// of Content, which mirrors protocol.PushConfig.
func DecodeRemove(b []byte) bool {
	var m struct {
		Remove bool `json:"remove"`
	}
	return json.Unmarshal(b, &m) == nil && m.Remove
}

// Revoker is a Provider whose vendor can remove a shown notification
// without showing another (HarmonyOS Push Kit's messages:revoke). A
// message withdraw whose push config says remove (the revoke had no
// pushConfig of its own, Job.Remove) goes to Revoke instead of Send when Revokes is
// true; a revoke with a pushConfig is always sent as the replacement that
// says what the app asked. Revoke's Result means what Send's does.
type Revoker interface {
	Revokes() bool
	Revoke(ctx context.Context, n Notification) (Result, error)
}

// sendOrRevoke makes the vendor call of job j: Revoke for a message
// withdraw to remove (Job.Remove) on a Provider that revokes, else Send.
// revoked says which.
func sendOrRevoke(ctx context.Context, p Provider, j Job, n Notification) (res Result, revoked bool, err error) {
	if r, ok := p.(Revoker); ok && j.Kind == JobMessageWithdraw && j.Remove && n.CollapseID != "" && r.Revokes() {
		res, err = r.Revoke(ctx, n)
		return res, true, err
	}
	res, err = p.Send(ctx, n)
	return res, false, err
}
