package push

import "strconv"

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
