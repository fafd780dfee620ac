package protocol

// TypePushReceipt reports what the device did with a push (the push SDK's
// notificationArrived or notificationClicked), while logged in.
const TypePushReceipt = "pushReceipt"

// PushReceiptRequest is a pushReceipt's payload (and the body of
// POST /v1/push/receipts, with the user's ID).
type PushReceiptRequest struct {
	// Kind is notificationArrived or notificationClicked.
	Kind string `json:"kind"`
	// PushJobID is the push's push_id custom-data value: the push job's
	// ID in UUID form.
	PushJobID string `json:"pushJobID"`
}

// PushReceiptReply answers a receipt: Duplicate when the push had a
// receipt of the kind already (nothing more was counted).
type PushReceiptReply struct {
	Duplicate bool `json:"duplicate"`
}
