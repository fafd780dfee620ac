package server

import (
	"strconv"

	"github.com/heraldim/herald/internal/call"
	"github.com/heraldim/herald/internal/gateway"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/webhook"
)

// The payloads (the "data" object) of the events Emit queues; message.sent
// is webhook.Message. docs/operations.md ("Webhooks") describes them.

type presenceData struct {
	UserID    string `json:"userID"`
	Platform  string `json:"platform"`
	DeviceID  string `json:"deviceID"`
	SessionID string `json:"sessionID"`
	Reason    string `json:"reason,omitempty"`
}

type pushOutcomeData struct {
	JobID     string `json:"jobID"`
	MessageID string `json:"messageID,omitempty"`
	CallID    string `json:"callID,omitempty"`
	Kind      string `json:"kind"`
	UserID    string `json:"userID"`
	PushID    string `json:"pushID"`
	Vendor    string `json:"vendor"`
	Outcome   string `json:"outcome"`
	Reason    string `json:"reason,omitempty"`
	Status    int    `json:"status,omitempty"`
	Attempts  int    `json:"attempts"`
}

type callUserData struct {
	UserID    string `json:"userID"`
	State     int    `json:"state"`
	InvitedBy string `json:"invitedBy,omitempty"`
}

type callEndedData struct {
	CallID string         `json:"callID"`
	Reason string         `json:"reason"`
	Users  []callUserData `json:"users"`
}

// presence turns the gateway's logins and session ends into events.
type presence struct{ wh *webhook.Service }

var _ gateway.Presence = presence{}

func (p presence) LoggedIn(e gateway.PresenceEvent) {
	p.wh.Emit(e.AppID, webhook.EventUserLogin, presenceData{e.UserID, e.Platform, e.DeviceID, e.SessionID, ""})
}

func (p presence) LoggedOut(e gateway.PresenceEvent) {
	p.wh.Emit(e.AppID, webhook.EventUserLogout, presenceData{e.UserID, e.Platform, e.DeviceID, e.SessionID, e.Reason})
}

// pushOutcome is the dispatcher's Outcome hook.
func pushOutcome(wh *webhook.Service) func(push.Job, push.Finish) {
	return func(j push.Job, f push.Finish) {
		d := pushOutcomeData{JobID: strconv.FormatInt(j.ID, 10), CallID: j.CallID, Kind: string(j.Kind), UserID: j.UserID,
			PushID: j.PushID, Vendor: string(j.Vendor), Outcome: string(f.Status), Reason: f.Reason, Status: f.Attempt.Status,
			Attempts: f.Attempts}
		if d.Kind == "" {
			d.Kind = "message"
		}
		if j.MessageID != 0 {
			d.MessageID = strconv.FormatInt(j.MessageID, 10)
		}
		wh.Emit(j.AppID, webhook.EventPushOutcome, d)
	}
}

// callEnded is the call service's Ended hook.
func callEnded(wh *webhook.Service) func(appID, callID, reason string, users []call.User) {
	return func(appID, callID, reason string, users []call.User) {
		d := callEndedData{CallID: callID, Reason: reason, Users: make([]callUserData, 0, len(users))}
		for _, u := range users {
			d.Users = append(d.Users, callUserData{UserID: u.UserID, State: u.State, InvitedBy: u.InvitedBy})
		}
		wh.Emit(appID, webhook.EventCallEnded, d)
	}
}
