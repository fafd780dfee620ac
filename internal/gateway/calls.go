package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/heraldim/herald/internal/call"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
)

// Calls is what the gateway needs from the call invitation service. Its
// requests take and return package call's types, validated by the gateway
// (protocol.ValidateCall*); its refusals are *call.Error, which
// WireCallError converts for the client, other errors are internal. Its
// events are call.Event values, which WireCallEvent converts (the Hub's
// CallEvent, or CallHub over another wire router).
type Calls = call.Operations

// handleCall handles the call request types and reports whether f was one.
func (s *Session) handleCall(f protocol.Frame) bool {
	if !protocol.IsCallType(f.Type) {
		return false
	}
	if s.g.calls == nil {
		s.replyErr(f.ID, protocol.Errorf(protocol.CodeUnavailable, "calls are not enabled on this server"))
		return true
	}
	r, err := s.callRequest(s.ctx, f)
	s.answer(f.ID, r, WireCallError(err))
	return true
}

// callRequest decodes and validates a call request frame, runs it and
// returns its wire reply.
func (s *Session) callRequest(ctx context.Context, f protocol.Frame) (any, error) {
	calls, appID, userID := s.g.calls, s.appID, s.userID
	switch f.Type {
	case protocol.TypeCallInvite:
		var r protocol.CallInviteRequest
		if err := protocol.DecodeData(f, &r); err != nil {
			return nil, err
		}
		if err := protocol.ValidateCallInvite(&r, userID); err != nil {
			return nil, err
		}
		rep, err := calls.Invite(ctx, appID, userID, callInvitation(r))
		if err != nil {
			return nil, err
		}
		return callInviteReply(rep), nil
	case protocol.TypeCallingInvite:
		var r protocol.CallingInviteRequest
		if err := protocol.DecodeData(f, &r); err != nil {
			return nil, err
		}
		if err := protocol.ValidateCallingInvite(&r, userID); err != nil {
			return nil, err
		}
		rep, err := calls.CallingInvite(ctx, appID, userID, callMoreInvitees(r))
		if err != nil {
			return nil, err
		}
		return callInviteReply(rep), nil
	case protocol.TypeCallCancel:
		var r protocol.CallCancelRequest
		if err := protocol.DecodeData(f, &r); err != nil {
			return nil, err
		}
		if err := protocol.ValidateCallCancel(&r); err != nil {
			return nil, err
		}
		rep, err := calls.Cancel(ctx, appID, userID, callCancellation(r))
		if err != nil {
			return nil, err
		}
		return callReply(rep), nil
	case protocol.TypeCallAccept, protocol.TypeCallReject, protocol.TypeCallJoin,
		protocol.TypeCallQuit, protocol.TypeCallEnd, protocol.TypeCallInfo:
		var r protocol.CallRequest
		if err := protocol.DecodeData(f, &r); err != nil {
			return nil, err
		}
		if err := protocol.ValidateCallRequest(&r); err != nil {
			return nil, err
		}
		a := call.Action{CallID: r.CallID, ExtendedData: r.ExtendedData}
		var (
			rep call.Outcome
			rec call.Record
			err error
		)
		switch f.Type {
		case protocol.TypeCallAccept:
			rep, err = calls.Accept(ctx, appID, userID, a)
		case protocol.TypeCallReject:
			rep, err = calls.Reject(ctx, appID, userID, a)
		case protocol.TypeCallQuit:
			rep, err = calls.Quit(ctx, appID, userID, a)
		case protocol.TypeCallEnd:
			rep, err = calls.End(ctx, appID, userID, a)
		case protocol.TypeCallJoin:
			rec, err = calls.Join(ctx, appID, userID, a)
		default:
			rec, err = calls.Info(ctx, appID, userID, r.CallID)
		}
		switch {
		case err != nil:
			return nil, err
		case f.Type == protocol.TypeCallJoin || f.Type == protocol.TypeCallInfo:
			return callInfoReply(rec), nil
		}
		return callReply(rep), nil
	}
	return nil, protocol.Errorf(protocol.CodeUnknownType, "")
}

// The converters below are the one place each wire call request or reply
// maps to package call's.

// callPushContent is a validated request's push config as the call keeps
// it: nil without one.
func callPushContent(pc *protocol.PushConfig) *push.Content {
	if pc == nil {
		return nil
	}
	c := push.Content(*pc)
	return &c
}

func callInvitation(r protocol.CallInviteRequest) call.Invitation {
	return call.Invitation{Invitees: r.Invitees, Mode: r.Mode, Timeout: r.Timeout,
		ExtendedData: r.ExtendedData, PushConfig: callPushContent(r.PushConfig)}
}

func callMoreInvitees(r protocol.CallingInviteRequest) call.MoreInvitees {
	return call.MoreInvitees{CallID: r.CallID, Invitees: r.Invitees, Timeout: r.Timeout,
		PushConfig: callPushContent(r.PushConfig)}
}

func callCancellation(r protocol.CallCancelRequest) call.Cancellation {
	return call.Cancellation{CallID: r.CallID, Invitees: r.Invitees, ExtendedData: r.ExtendedData,
		PushConfig: callPushContent(r.PushConfig)}
}

func callErrorUsers(us []call.ErrorUser) []protocol.CallErrorUser {
	if us == nil {
		return nil
	}
	out := make([]protocol.CallErrorUser, len(us))
	for i, u := range us {
		code := wireCallCode(u.Code)
		reason := u.Reason
		if reason == "" {
			reason = protocol.Errorf(code, "").Message
		}
		out[i] = protocol.CallErrorUser{UserID: u.UserID, Code: code, Reason: reason}
	}
	return out
}

func callInviteReply(r call.Invited) protocol.CallInviteReply {
	return protocol.CallInviteReply{CallID: r.CallID, Timeout: r.Timeout, Deadline: r.Deadline.UnixMilli(),
		ErrorInvitees: callErrorUsers(r.ErrorInvitees)}
}

func callReply(r call.Outcome) protocol.CallReply {
	return protocol.CallReply{CallID: r.CallID, ErrorInvitees: callErrorUsers(r.ErrorInvitees)}
}

func callInfoReply(c call.Record) protocol.CallInfo {
	return protocol.CallInfo{CallID: c.CallID, Inviter: c.Inviter, Mode: c.Mode, ExtendedData: c.ExtendedData,
		CreatedAt: c.CreatedAt.UnixMilli(), Deadline: c.Deadline.UnixMilli(), Ended: !c.ClosedAt.IsZero(),
		Users: callUsers(c.Users)}
}

// callCodes are the wire codes of the call service's refusals.
var callCodes = map[call.Code]protocol.Code{
	call.CodeInvalidArgument:  protocol.CodeInvalidArgument,
	call.CodeInvalidInvitees:  protocol.CodeInvalidInvitees,
	call.CodeUserNotFound:     protocol.CodeUserNotFound,
	call.CodeCallNotFound:     protocol.CodeCallNotFound,
	call.CodeNotInvitee:       protocol.CodeNotCallInvitee,
	call.CodePermissionDenied: protocol.CodePermissionDenied,
	call.CodeAnswered:         protocol.CodeCallAnswered,
	call.CodeEnded:            protocol.CodeCallEnded,
	call.CodeUnavailable:      protocol.CodeUnavailable,
}

// wireCallCode is c on the wire; a code without one is internal.
func wireCallCode(c call.Code) protocol.Code {
	if w, ok := callCodes[c]; ok {
		return w
	}
	return protocol.CodeInternal
}

// WireCallError is an error of the call service for the client: a refusal
// (*call.Error) as its wire code and message (the code's own when it has
// none); any other error (nil included) unchanged.
func WireCallError(err error) error {
	var ce *call.Error
	if !errors.As(err, &ce) {
		return err
	}
	if ce.Message == "" {
		return protocol.Errorf(wireCallCode(ce.Code), "")
	}
	return protocol.Errorf(wireCallCode(ce.Code), "%s", ce.Message)
}

// callUsers is a call's users on the wire (an empty list, never null).
func callUsers(us []call.User) []protocol.CallUser {
	out := make([]protocol.CallUser, len(us))
	for i, u := range us {
		out[i] = protocol.CallUser{UserID: u.UserID, State: u.State, ExtendedData: u.ExtendedData, UpdatedAt: u.UpdatedAt.UnixMilli()}
	}
	return out
}

// WireCallEvent is a call event on the wire: its event type and payload,
// times in Unix ms. An event of a type it does not know is a programming
// error: it panics, as a silent drop would hide it.
func WireCallEvent(ev call.Event) (typ string, v any) {
	switch ev := ev.(type) {
	case call.InvitationReceived:
		return protocol.EventCallInvitationReceived, protocol.CallInvitationReceived{CallID: ev.CallID,
			Inviter: ev.Inviter, Mode: ev.Mode, Timeout: ev.Timeout, Deadline: ev.Deadline.UnixMilli(),
			ExtendedData: ev.ExtendedData, CreatedAt: ev.CreatedAt.UnixMilli(), Users: callUsers(ev.Users)}
	case call.UserStateChanged:
		return protocol.EventCallUserStateChanged, protocol.CallUserStateChanged{CallID: ev.CallID, Users: callUsers(ev.Users)}
	case call.InvitationCancelled:
		return protocol.EventCallInvitationCancelled, protocol.CallInvitationCancelled{CallID: ev.CallID,
			Inviter: ev.Inviter, Mode: ev.Mode, ExtendedData: ev.ExtendedData}
	case call.InvitationTimeout:
		return protocol.EventCallInvitationTimeout, protocol.CallInvitationTimeout{CallID: ev.CallID, Mode: ev.Mode}
	case call.InvitationEnded:
		return protocol.EventCallInvitationEnded, protocol.CallInvitationEnded{CallID: ev.CallID,
			OperatedBy: ev.OperatedBy, Mode: ev.Mode, ExtendedData: ev.ExtendedData, EndedAt: ev.EndedAt.UnixMilli()}
	}
	panic(fmt.Sprintf("gateway: unknown call event %T", ev))
}

// EventSender is presence and wire events, as the hub (or a router over
// several nodes' hubs) offers them (route.Presence and route.Events).
type EventSender interface {
	Online(appID, userID string) bool
	SendEvent(appID, userID, typ string, v any)
}

// CallHub is the call service's hub over h: its events converted to the
// wire (WireCallEvent) and sent with h.SendEvent.
func CallHub(h EventSender) call.Hub { return callHub{h} }

type callHub struct{ EventSender }

func (h callHub) CallEvent(appID, userID string, ev call.Event) {
	typ, v := WireCallEvent(ev)
	h.SendEvent(appID, userID, typ, v)
}

// callEvent writes a call event to this session.
func (s *Session) callEvent(ev call.Event) { s.event(WireCallEvent(ev)) }
