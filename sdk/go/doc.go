// Package herald is the Go client SDK of Herald, a self-hosted instant
// messaging server with offline push.
//
// Its API mirrors the ZIM SDK that Herald's seed integrates (create, login,
// logout, sendMessage with a send config, queryHistoryMessage,
// queryConversationList, event handlers and connection states), in Go style:
// a context first, errors returned, durations as time.Duration.
//
// A Client keeps one WebSocket connection to the server's /v1/ws endpoint.
// After Login it heartbeats, detects a dead connection, and reconnects by
// itself with exponential backoff and jitter until Logout, Destroy, a kick
// or an expired token. Messages reach the app through EventHandler: once
// each and in conversation order, whether they arrive live or by the offline
// sync that follows every login. The SDK acknowledges a message to the
// server after its handler returned, so a message that was never handed to
// the app is delivered again at the next login of the same device.
//
// The server's limits (docs/protocol.md, "Limits") come with a time to try
// again, which the SDK obeys. A send over the message rate (CodeRateLimited)
// is sent again with the same LocalMessageID after the server's retryAfter,
// not the reconnect backoff, while that fits within RequestTimeout and the
// caller's context; otherwise SendMessage returns the *Error, whose
// RetryAfter says when a send will pass. A handshake refused by a connection
// cap (HTTP 503 with Retry-After, CodeTooManyConnections to
// CodeTooManyUnauthenticatedFromIP) makes Login return that *Error, and
// delays the next reconnect attempt by at least the Retry-After plus up to a
// quarter of it as jitter (hints over five minutes count as five minutes),
// logged at info level. A login refused with CodeTooManySessions is not
// retried: Login returns it, and a reconnect refused with it ends the login
// (ConnectionStateDisconnected, ConnectionEventLoginInterrupted, extended
// data "code" 42905), since nothing changes until the user's other sessions
// end.
//
// Groups (CreateGroup, JoinGroup, InviteUsersIntoGroup, ...) carry messages
// sent with ConversationTypeGroup and the group's ID, delivered through
// EventHandler.ReceiveGroupMessage with the same guarantees. Call
// invitations (CallInvite, CallAccept, CallReject, CallCancel, ...) are
// signalling for calls whose media go elsewhere; their events reach the
// EventHandler.Call* handlers, in order with everything else.
//
// Offline push: Config.Push registers the device's push channel at every
// login and binds it to the user; RegisterPush does the same while logged
// in (a token that arrives or changes after login, pushes switched off and
// on) and replaces Config.Push for later logins; Logout unbinds the device.
// ReportPushReceipt (logged in) and ReportPushReceiptWithToken (before
// login) report that a push, named by its PushJobIDKey extra, arrived or
// was tapped, for the app's push statistics.
//
//	c, err := herald.Create(herald.Config{AppID: appID, DeviceID: "laptop-1"})
//	c.SetEventHandler(herald.EventHandler{
//		ReceivePeerMessage: func(msgs []herald.Message, info herald.MessageReceivedInfo, from string) { ... },
//	})
//	err = c.Login(ctx, "alice", token)
//	sent, err := c.SendMessage(ctx, herald.NewTextMessage("hi"), "bob", herald.ConversationTypePeer, herald.MessageSendConfig{})
//	err = c.Logout(ctx)
//	c.Destroy()
package herald
