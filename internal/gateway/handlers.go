package gateway

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/route"
)

// readLoop is TransportGoroutine's reader: it reads and handles frames
// until the connection ends. Requests are handled in order; anything slow
// (store reads) only delays this session.
func (s *Session) readLoop(conn *websocket.Conn) {
	for {
		// No per-read context (it costs a timer per frame): the writer
		// closes the connection when the session ends, which ends this read.
		typ, b, err := conn.Read(context.Background())
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusMessageTooBig {
				s.g.metrics.badFrames.Inc()
			}
			return
		}
		if s.onMessage(typ, b) {
			// Logged out: the writer sends the reply and the close frame.
			<-s.ctx.Done()
			return
		}
	}
}

// onMessage handles one message read from the connection, in the order
// they came; true: the session stops reading (it logged out).
func (s *Session) onMessage(typ websocket.MessageType, b []byte) bool {
	s.seen()
	if typ != websocket.MessageText {
		s.g.metrics.badFrames.Inc()
		s.replyErr("", protocol.Errorf(protocol.CodeBadFrame, "frames are JSON text messages"))
		return false
	}
	// f.Data is a slice of b, which the transport may reuse once onMessage
	// returns: handlers decode it (DecodeData) before they return.
	f, perr := protocol.Decode(b)
	if perr != nil {
		s.g.metrics.badFrames.Inc()
		s.replyErr(f.ID, perr)
		return false
	}
	s.g.metrics.frames.WithLabelValues(f.Type).Inc()
	if f.Type == protocol.TypeLogout && s.handleLogout(f) {
		return true
	}
	s.handle(f)
	return false
}

func (s *Session) handle(f protocol.Frame) {
	if f.Type == protocol.TypeLogin {
		s.handleLogin(f)
		return
	}
	if !s.loggedIn.Load() {
		s.replyErr(f.ID, protocol.Errorf(protocol.CodeNotLoggedIn, ""))
		return
	}
	if s.handleGroup(f) || s.handleCall(f) || s.handleUser(f) || s.handleRevoke(f) || s.handleConversation(f) || s.handlePushRule(f) {
		return
	}
	switch f.Type {
	case protocol.TypePing:
		s.reply(f.ID, protocol.PingReply{ServerTime: s.g.cfg.Clock.Now().UnixMilli()})
	case protocol.TypeRenewToken:
		s.handleRenew(f)
	case protocol.TypeSend:
		s.handleSend(f)
	case protocol.TypeAck:
		var req protocol.AckRequest
		if perr := protocol.DecodeData(f, &req); perr != nil {
			s.replyErr(f.ID, perr)
			return
		}
		if err := s.g.svc.Ack(s.ctx, s.appID, s.userID, s.deviceID, req.Acks); err != nil {
			s.replyErr(f.ID, err)
			return
		}
		s.noteAcks(req.Acks)
		if f.ID != "" {
			s.reply(f.ID, struct{}{})
		}
	case protocol.TypeSync:
		var req protocol.SyncRequest
		if perr := protocol.DecodeData(f, &req); perr != nil {
			s.replyErr(f.ID, perr)
			return
		}
		positions := make([]position, 0, len(req.Positions))
		for _, p := range req.Positions {
			conv, floor, err := s.g.svc.ConvFor(s.ctx, s.appID, s.userID, p.ConversationID, p.ConversationType)
			if err != nil {
				s.replyErr(f.ID, err)
				return
			}
			if p.Seq < 0 {
				s.replyErr(f.ID, protocol.Errorf(protocol.CodeInvalidArgument, "seq must not be negative"))
				return
			}
			positions = append(positions, position{conv: conv, seq: max(p.Seq, floor)})
		}
		s.push(item{kind: kindSync, prio: prioControl, positions: positions, replyID: f.ID})
	case protocol.TypeHistory:
		query(s, f, s.history)
	case protocol.TypeConversationList:
		query(s, f, s.conversations)
	case protocol.TypeMarkRead:
		query(s, f, s.markRead)
	case protocol.TypeRegisterPush:
		s.handleRegisterPush(f)
	case protocol.TypePushReceipt:
		query(s, f, s.pushReceipt)
	case protocol.TypeUnregisterPush:
		var req protocol.UnregisterPushRequest
		if perr := protocol.DecodeData(f, &req); perr != nil {
			s.replyErr(f.ID, perr)
			return
		}
		if err := s.g.devices.Unregister(s.ctx, s.appID, s.userID, req.PushID); err != nil {
			s.replyErr(f.ID, pushError(err))
			return
		}
		if req.PushID == s.pushID {
			// The session's own device is gone: nothing to unbind at
			// logout, and no claim to hold against other users' logins.
			s.setPushID("")
			s.g.claims.release(s)
		}
		s.reply(f.ID, struct{}{})
	}
}

// handleRegisterPush registers and binds the session's device after login,
// as a login's push does (same checks, same claim, same trace events). A
// device the session registered before under another PushID (a new token
// after a reinstall, another vendor) is unbound once the new bind
// succeeded; the same device is updated (disabled switches its pushes off
// and on). A request that fails changes nothing.
func (s *Session) handleRegisterPush(f protocol.Frame) {
	var req protocol.RegisterPushRequest
	if perr := protocol.DecodeData(f, &req); perr != nil {
		s.replyErr(f.ID, perr)
		return
	}
	id, err := s.bindDevice(s.appID, s.userID, registration(s.platform, &req))
	if err != nil {
		s.replyErr(f.ID, err)
		return
	}
	if old := s.pushID; old != "" && old != id {
		if err := s.g.devices.Unbind(s.ctx, s.appID, s.userID, old); err != nil {
			s.g.log.Error("unbinding the device a registerPush replaced", "session", s.id, "pushID", old, "err", err)
		}
	}
	s.setPushID(id)
	s.reply(f.ID, protocol.RegisterPushReply{PushID: id})
}

// registration converts a login's or registerPush's push registration.
func registration(platform string, r *protocol.PushRegistration) push.Registration {
	reg := push.Registration{
		Vendor: push.Vendor(r.Vendor), Token: r.Token, VoIPToken: r.VoIPToken,
		Environment: push.Environment(r.Environment), Platform: platform, BundleID: r.BundleID,
		PushID: r.PushID, Enabled: !r.Disabled,
	}
	if fg := r.Foreground; fg != nil {
		if fg.Alert {
			reg.Foreground |= push.ForegroundAlert
		}
		if fg.Sound {
			reg.Foreground |= push.ForegroundSound
		}
		if fg.Badge {
			reg.Foreground |= push.ForegroundBadge
		}
	}
	return reg
}

// bindDevice registers a login's or registerPush's device and binds it to
// user, unless a live session of another user bound it (see
// deviceClaims): then device_in_use, and nothing changes. On success s
// holds the device's claim (and no longer the one it held before). Errors
// are *protocol.Error where the client is at fault.
func (s *Session) bindDevice(appID, user string, reg push.Registration) (string, error) {
	id, err := reg.Validate(appID)
	if err != nil {
		return "", pushError(err)
	}
	undo, ok := s.g.claims.take(appID, id, user, s)
	if !ok {
		s.g.log.Warn("push registration refused: its PushID is bound to another user's live session",
			"session", s.id, "app", appID, "user", user, "pushID", id)
		return "", protocol.Errorf(protocol.CodeDeviceInUse, "")
	}
	if id, err = s.g.devices.Bind(s.ctx, appID, user, reg); err != nil {
		undo()
		return "", pushError(err)
	}
	return id, nil
}

// pushError maps push registry errors to protocol errors.
func pushError(err error) error {
	switch {
	case errors.Is(err, push.ErrInvalidRegistration):
		return protocol.Errorf(protocol.CodeInvalidPushDevice, "%s", strings.TrimPrefix(err.Error(), "push: invalid registration: "))
	case errors.Is(err, push.ErrNotFound):
		return protocol.Errorf(protocol.CodeInvalidPushDevice, "no such device bound to you")
	}
	return err
}

// query decodes f's payload as a Req, runs fn for the session's user and
// replies with its result or error.
func query[Req, Resp any](s *Session, f protocol.Frame, fn func(ctx context.Context, appID, userID string, req Req) (Resp, error)) {
	var req Req
	if perr := protocol.DecodeData(f, &req); perr != nil {
		s.replyErr(f.ID, perr)
		return
	}
	r, err := fn(s.ctx, s.appID, s.userID, req)
	s.answer(f.ID, r, err)
}

func (s *Session) answer(id string, v any, err error) {
	if err != nil {
		s.replyErr(id, err)
		return
	}
	s.reply(id, v)
}

func (s *Session) handleLogin(f protocol.Frame) {
	if s.loggedIn.Load() {
		s.replyErr(f.ID, protocol.Errorf(protocol.CodeAlreadyLoggedIn, ""))
		return
	}
	var req protocol.LoginRequest
	if perr := protocol.DecodeData(f, &req); perr != nil {
		s.replyErr(f.ID, perr)
		return
	}
	switch {
	case !protocol.ValidPlatform(req.Platform):
		s.replyErr(f.ID, protocol.Errorf(protocol.CodeInvalidArgument, "platform must be one of ios, android, web, windows, macos, linux, ipados, harmonyos, server"))
		return
	case !protocol.ValidDeviceID(req.DeviceID):
		s.replyErr(f.ID, protocol.Errorf(protocol.CodeInvalidArgument, "deviceID must be 1 to %d characters of A-Z a-z 0-9 _-.@+=", protocol.MaxDeviceIDLen))
		return
	}
	appCloses := s.g.appCloses.Load()
	claims, err := s.g.svc.Authenticate(s.ctx, req.AppID, req.UserID, req.Token)
	if err != nil {
		s.g.metrics.loginFailures.WithLabelValues(protocol.AsError(err).Code.Name()).Inc()
		s.replyErr(f.ID, err)
		return
	}
	// The user's place is held from here until the session is registered
	// below (or the login failed), so that simultaneous logins cannot
	// pass the cap together.
	if !s.g.reserve(req.AppID, req.UserID, req.Platform) {
		s.g.metrics.loginFailures.WithLabelValues(protocol.CodeTooManySessions.Name()).Inc()
		s.replyErr(f.ID, protocol.Errorf(protocol.CodeTooManySessions, "the user has %d sessions on this server (max-sessions-per-user)", s.g.cfg.MaxSessionsPerUser))
		return
	}
	defer s.g.hub.unreserve(req.AppID, req.UserID)
	if err := s.g.svc.LoggedIn(s.ctx, req.AppID, req.UserID); err != nil {
		s.replyErr(f.ID, err)
		return
	}
	if req.Push != nil {
		id, err := s.bindDevice(req.AppID, req.UserID, registration(req.Platform, req.Push))
		if err != nil {
			s.g.metrics.loginFailures.WithLabelValues(protocol.AsError(err).Code.Name()).Inc()
			s.replyErr(f.ID, err)
			return
		}
		s.setPushID(id)
	}
	s.appID, s.userID, s.deviceID, s.platform = req.AppID, req.UserID, req.DeviceID, req.Platform
	s.tokenExp.Store(claims.Expires.UnixMilli())
	s.tokenIat.Store(claims.IssuedAt.UnixMilli())
	s.since = s.g.cfg.Clock.Now()
	s.loggedIn.Store(true)
	s.lim.Authenticated()

	// Reply first, then register: messages routed from now on queue behind
	// the reply and the login sync, which deduplicates them by sequence.
	var webPushKey string
	if s.g.cfg.WebPushKey != nil {
		webPushKey = s.g.cfg.WebPushKey(req.AppID)
	}
	s.reply(f.ID, protocol.LoginReply{
		SessionID:         s.id,
		UserID:            s.userID,
		ServerTime:        s.g.cfg.Clock.Now().UnixMilli(),
		HeartbeatInterval: s.g.cfg.HeartbeatInterval.Milliseconds(),
		OfflineAfter:      s.g.cfg.OfflineAfter.Milliseconds(),
		TokenExpiresAt:    claims.Expires.UnixMilli(),
		PushID:            s.pushID,
		WebPushKey:        webPushKey,
	})
	for _, old := range s.g.hub.register(s, s.g.cfg.MultiLogin) {
		old.kickedByLogin()
	}
	s.recheckApp(appCloses, req.Token)
	if s.revokedMeanwhile(claims.IssuedAt) {
		return
	}
	s.push(item{kind: kindSync, prio: prioControl, login: true, skip: req.SkipSync})
	if p := s.g.cfg.Presence; p != nil {
		p.LoggedIn(PresenceEvent{AppID: s.appID, UserID: s.userID, Platform: s.platform, DeviceID: s.deviceID, SessionID: s.id})
	}
	if s.g.calls != nil {
		s.g.calls.LoggedIn(s.ctx, s.appID, s.userID, s.callEvent)
	}
}

// revokedMeanwhile closes the session, just registered, when the user's
// tokens were revoked since Authenticate accepted its token: the
// revocation's sweep of the live sessions (Hub.CloseRevoked) may have run
// before the session was in the hub.
func (s *Session) revokedMeanwhile(issuedAt time.Time) bool {
	err := s.g.svc.CheckRevoked(s.ctx, s.appID, s.userID, issuedAt)
	switch {
	case err == nil:
		return false
	case protocol.AsError(err).Code == protocol.CodeTokenRevoked:
		s.g.hub.unregister(s)
		s.closeWith(protocol.CloseTokenRevoked, "token revoked by the app's server")
		return true
	}
	// The check passed once at Authenticate; a store error now is no
	// reason to end the session.
	s.g.log.Warn("checking the token's revocation after login failed", "session", s.id, "err", err)
	return false
}

func (s *Session) handleRenew(f protocol.Frame) {
	var req protocol.RenewTokenRequest
	if perr := protocol.DecodeData(f, &req); perr != nil {
		s.replyErr(f.ID, perr)
		return
	}
	claims, err := s.g.svc.Authenticate(s.ctx, s.appID, s.userID, req.Token)
	if err != nil {
		s.replyErr(f.ID, err)
		return
	}
	s.tokenExp.Store(claims.Expires.UnixMilli())
	s.tokenIat.Store(claims.IssuedAt.UnixMilli())
	s.warned.Store(false)
	s.reply(f.ID, protocol.RenewTokenReply{TokenExpiresAt: claims.Expires.UnixMilli()})
}

func (s *Session) handleSend(f protocol.Frame) {
	var req protocol.SendRequest
	if perr := protocol.DecodeData(f, &req); perr != nil {
		s.replyErr(f.ID, perr)
		return
	}
	id := f.ID
	// Over the user's or the app's message rate, the send is refused
	// before anything is stored; the reply says when to retry.
	if s.g.cfg.Messages != nil {
		if after, scope, ok := s.g.cfg.Messages.Allow(s.appID, s.userID); !ok {
			s.replyErr(id, protocol.Errorf(protocol.CodeRateLimited, "over the %s message rate; retry after %s",
				scope, after.Round(time.Millisecond)).WithRetryAfter(after))
			return
		}
	}
	select {
	case s.inflight <- struct{}{}:
	case <-s.ctx.Done():
		return
	}
	out := im.OutgoingFrom(&req)
	err := s.g.svc.Send(s.ctx, im.Sender{AppID: s.appID, UserID: s.userID}, &out, route.SessionID(s.id), func(r im.SendResult, err error) {
		<-s.inflight
		switch {
		case err != nil:
			s.replyErr(id, err)
		case r.Duplicate:
			s.reply(id, protocol.SendReply{
				MessageID:       formatID(r.Msg.ID),
				ConversationSeq: r.Msg.Seq,
				Timestamp:       r.Msg.CreatedAt.UnixMilli(),
				Duplicate:       true,
			})
		default:
			s.push(item{kind: kindSent, prio: prioControl, msg: r.Msg, replyID: id})
		}
	})
	if err != nil {
		<-s.inflight
		s.replyErr(id, err)
	}
}

// noteAcks records positions the service accepted, for ended.
func (s *Session) noteAcks(acks []protocol.AckPosition) {
	if s.acked == nil {
		s.acked = map[string]int64{}
	}
	for _, a := range acks {
		conv := im.GroupConvID(a.ConversationID)
		if a.ConversationType != protocol.ConversationGroup {
			conv = im.PeerConvID(s.userID, a.ConversationID)
		}
		s.acked[conv] = max(s.acked[conv], a.Seq)
		s.weakAcked(conv, a.Seq)
	}
}

// handleLogout reports whether the session ended.
func (s *Session) handleLogout(f protocol.Frame) bool {
	if !s.loggedIn.Load() {
		s.replyErr(f.ID, protocol.Errorf(protocol.CodeNotLoggedIn, ""))
		return false
	}
	s.loggedOut = true
	s.g.claims.release(s)
	s.g.hub.unregister(s)
	// Logout unbinds the device at once (promise 6): a phone that switches
	// accounts never gets the old account's pushes.
	if s.pushID != "" {
		if err := s.g.devices.Unbind(s.ctx, s.appID, s.userID, s.pushID); err != nil {
			s.g.log.Error("unbinding device at logout", "session", s.id, "err", err)
		}
	}
	s.reply(f.ID, struct{}{})
	s.closeWith(protocol.CloseLoggedOut, "logged out")
	return true
}

func formatID(id int64) string { return strconv.FormatInt(id, 10) }
