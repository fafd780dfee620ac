package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
)

// ExplainStore is what the push explanation reads beyond the trace (the
// SQLite store).
type ExplainStore interface {
	// MessageByID returns a stored message of the app; im.ErrNotFound if
	// there is none.
	MessageByID(ctx context.Context, appID string, id int64) (im.Message, error)
	// GroupMembership says whether the user is a member of the group now.
	GroupMembership(ctx context.Context, appID, groupID, userID string) (joinedSeq int64, member bool, err error)
	// GroupFanoutState says whether a group message's push is still being
	// planned, and up to which member it got.
	GroupFanoutState(ctx context.Context, appID string, messageID int64) (afterUser string, inProgress bool, err error)
}

// The verdicts of a push explanation.
const (
	verdictPushed    = "pushed"     // a vendor accepted a push of it to the user
	verdictPending   = "pending"    // not yet: a job waits, or the fan-out did not reach the user
	verdictNotPushed = "not_pushed" // and it will not be
)

// The reasons of a push explanation: stable codes, documented in
// docs/operations.md ("Why was this pushed") and docs/openapi.yaml.
const (
	reasonMessageNotFound     = "message_not_found"
	reasonNotInConversation   = "not_in_conversation"
	reasonSender              = "sender"
	reasonNoPushConfig        = "no_push_config"
	reasonFanoutInProgress    = "fanout_in_progress"
	reasonDelivered           = "delivered"
	reasonQueued              = "queued"
	reasonThrottled           = "throttled"
	reasonQuotaExceeded       = "quota_exceeded"
	reasonVendorNotConfigured = "vendor_not_configured"
	reasonCredentialFailing   = "credential_failing"
	reasonRejected            = "rejected"
	reasonFailed              = "failed"
	reasonExpired             = "expired"
	reasonDropped             = "dropped"
	reasonNoDevices           = "no_devices"
	reasonDevicesDisabled     = "devices_disabled"
	reasonDeliveredLive       = "delivered_live"
)

type explainMessage struct {
	// ID is a string, as the send reply's: a JavaScript number cannot
	// hold every 64-bit ID.
	ID             string    `json:"id"`
	ConversationID string    `json:"conversationID"`
	ConvType       int       `json:"convType"`
	Sender         string    `json:"sender"`
	Type           int       `json:"type"`
	HasPushConfig  bool      `json:"hasPushConfig"`
	CreatedAt      time.Time `json:"createdAt"`
}

type explainDevice struct {
	deviceView
	// Eligible: bound and enabled, registered before the message.
	Eligible bool `json:"eligible"`
	// Credential is the app's credential state for the device's vendor
	// and environment: "ok", "missing" or "failing".
	Credential string `json:"credential"`
	// Failing is the credential's failure, when failing.
	Failing string `json:"failing,omitempty"`
}

type explainFanout struct {
	// InProgress: the group message's pushes are still being planned a
	// page of members at a time; AfterUser is the last member planned.
	InProgress bool   `json:"inProgress"`
	AfterUser  string `json:"afterUser"`
}

type explainReply struct {
	MessageID string `json:"messageID"`
	UserID    string `json:"userID"`
	Verdict   string `json:"verdict"`
	Reason    string `json:"reason"`
	// Detail says it in words, with the evidence that decided.
	Detail string `json:"detail"`
	// Inferred: the reason is the likely one, not recorded (the store
	// does not record presence).
	Inferred bool `json:"inferred"`
	// Message is absent when it does not exist.
	Message *explainMessage `json:"message,omitempty"`
	// Member: the user is in the message's conversation (a group's
	// member now, or a peer conversation's participant).
	Member bool           `json:"member"`
	Fanout *explainFanout `json:"fanout,omitempty"`
	// Devices are those bound to the user now.
	Devices []explainDevice `json:"devices"`
	// Jobs are the message's push jobs for the user, newest first.
	Jobs []jobView `json:"jobs"`
}

// explain says why a message was, or was not, pushed to a user, from the
// stored message, conversation, devices, jobs and their attempts, and the
// app's credentials.
func (h *Handler) explain(w http.ResponseWriter, r *http.Request, app im.App) error {
	es, ok := h.d.Devices.(ExplainStore)
	cd, ok2 := h.d.Devices.(ConsoleDevices)
	if !ok || !ok2 {
		return protocol.Errorf(protocol.CodeUnavailable, "the push explanation is not available on this server")
	}
	q := r.URL.Query()
	id, err := strconv.ParseInt(q.Get("messageID"), 10, 64)
	if err != nil || id <= 0 {
		return protocol.Errorf(protocol.CodeInvalidArgument, "messageID must be a positive integer")
	}
	user := q.Get("userID")
	if !protocol.ValidUserID(user) {
		return protocol.Errorf(protocol.CodeInvalidUserID, "")
	}
	ctx := r.Context()
	rep := explainReply{MessageID: strconv.FormatInt(id, 10), UserID: user, Devices: []explainDevice{}, Jobs: []jobView{}}
	m, err := es.MessageByID(ctx, app.ID, id)
	if errors.Is(err, im.ErrNotFound) {
		rep.Verdict, rep.Reason = verdictNotPushed, reasonMessageNotFound
		rep.Detail = "no stored message of this app has this ID (commands are never stored, and never pushed)"
		writeJSON(w, http.StatusOK, rep)
		return nil
	}
	if err != nil {
		return fmt.Errorf("admin: explain: %w", err)
	}
	rep.Message = &explainMessage{ID: strconv.FormatInt(m.ID, 10), ConversationID: m.ConvID, ConvType: m.ConvType, Sender: m.Sender, Type: m.Type,
		HasPushConfig: m.PushConfig != nil, CreatedAt: m.CreatedAt.UTC()}
	group := m.ConvType == protocol.ConversationGroup
	if group {
		_, rep.Member, err = es.GroupMembership(ctx, app.ID, m.Recipient, user)
		if err != nil {
			return fmt.Errorf("admin: explain: %w", err)
		}
	} else {
		rep.Member = user == m.Sender || user == m.Recipient
	}
	// The evidence first, whatever decides.
	ds, err := cd.UserDevices(ctx, app.ID, user)
	if err != nil {
		return fmt.Errorf("admin: explain: %w", err)
	}
	failing := h.d.Failures.Failing()
	for _, d := range ds {
		ed := explainDevice{deviceView: viewDevice(d), Credential: "ok",
			// The planning rule (push.Eligible), and registered by the
			// time the message was committed.
			Eligible: push.Eligible(d, user) && !d.CreatedAt.After(m.CreatedAt)}
		if _, err := h.d.Providers.Provider(ctx, app.ID, d.Vendor, d.Environment); err != nil {
			ed.Credential = "missing"
		} else if f, ok := failing[app.ID+"/"+string(d.Vendor)+"/"+string(d.Environment)]; ok {
			ed.Credential, ed.Failing = "failing", f
		}
		rep.Devices = append(rep.Devices, ed)
	}
	jobs, attempts, err := h.d.Devices.Trace(ctx, push.TraceFilter{AppID: app.ID, MessageID: id, UserID: user, Limit: maxTraceLimit})
	if err != nil {
		return fmt.Errorf("admin: explain: %w", err)
	}
	rep.Jobs = jobViews(jobs, attempts)
	if group && rep.Member && user != m.Sender && m.PushConfig != nil && len(jobs) == 0 {
		after, busy, err := es.GroupFanoutState(ctx, app.ID, id)
		if err != nil {
			return fmt.Errorf("admin: explain: %w", err)
		}
		rep.Fanout = &explainFanout{InProgress: busy, AfterUser: after}
	}
	rep.Verdict, rep.Reason, rep.Detail, rep.Inferred = decide(m, user, rep)
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// decide reads the verdict from the evidence gathered in rep.
func decide(m im.Message, user string, rep explainReply) (verdict, reason, detail string, inferred bool) {
	switch {
	case !rep.Member:
		return verdictNotPushed, reasonNotInConversation, "the user is not in the message's conversation (not a participant, or not a member of the group now)", false
	case user == m.Sender:
		return verdictNotPushed, reasonSender, "the user sent the message: a sender's own devices are never pushed for it", false
	case m.PushConfig == nil:
		return verdictNotPushed, reasonNoPushConfig, "the message was sent without a push config: it is delivered to live sessions and synced, never pushed", false
	}
	if len(rep.Jobs) > 0 {
		return decideJobs(rep.Jobs)
	}
	if rep.Fanout != nil && rep.Fanout.InProgress && user > rep.Fanout.AfterUser {
		return verdictPending, reasonFanoutInProgress, fmt.Sprintf("the group's pushes are still being planned, a page of members at a time (planned up to %q)", rep.Fanout.AfterUser), false
	}
	eligible, enabled := 0, 0
	for _, d := range rep.Devices {
		if d.Enabled {
			enabled++
		}
		if d.Eligible {
			eligible++
		}
	}
	switch {
	case len(rep.Devices) == 0:
		return verdictNotPushed, reasonNoDevices, "no device is bound to the user (none registered, or unbound by a logout, or removed)", false
	case enabled == 0:
		return verdictNotPushed, reasonDevicesDisabled, "every device bound to the user has its pushes switched off (setPushConfig)", false
	case eligible == 0:
		return verdictNotPushed, reasonNoDevices, "the user's enabled devices registered after the message was sent", false
	}
	return verdictNotPushed, reasonDeliveredLive, "no push job was planned although the user has eligible devices: the user was most likely online when the message was committed, and got it live (the store does not record presence)", true
}

// decideJobs reads the verdict from the user's jobs of the message, newest
// first: one delivered is enough; else one still open; else the newest
// ended one says why.
func decideJobs(jobs []jobView) (verdict, reason, detail string, inferred bool) {
	for _, j := range jobs {
		if j.Status == push.JobDelivered {
			return verdictPushed, reasonDelivered, fmt.Sprintf("%s accepted the push to device %s", j.Vendor, j.PushID), false
		}
	}
	for _, j := range jobs {
		if j.Status != push.JobPending && j.Status != push.JobHeld {
			continue
		}
		last := lastAttempt(j)
		switch {
		case j.Status == push.JobHeld || last == "quota_exhausted" || last == "held" && strings.Contains(j.Reason, "quota"):
			return verdictPending, reasonQuotaExceeded, fmt.Sprintf("held back for %s: %s", j.PushID, j.Reason), false
		case last == "retry" || last == "deferred" || last == "held":
			return verdictPending, reasonThrottled, fmt.Sprintf("%s answered with a passing fault or throttling; retried at %s: %s",
				j.Vendor, j.NotBefore.UTC().Format(time.RFC3339), orAttemptReason(j)), false
		}
		return verdictPending, reasonQueued, fmt.Sprintf("the push to %s waits for its turn (%s)", j.PushID, j.NotBefore.UTC().Format(time.RFC3339)), false
	}
	j := jobs[0]
	why := orAttemptReason(j)
	switch j.Status {
	case push.JobExpired:
		return verdictNotPushed, reasonExpired, "its time to live passed before a vendor took it: " + why, false
	case push.JobDropped:
		return verdictNotPushed, reasonDropped, "dropped: " + why, false
	}
	last := lastAttempt(j)
	switch {
	case strings.Contains(j.Reason, push.ErrVendorNotConfigured.Error()):
		return verdictNotPushed, reasonVendorNotConfigured, fmt.Sprintf("the app has no %s credential for the device's environment: %s", j.Vendor, why), false
	case strings.HasPrefix(j.Reason, "credential failing") || last == "auth_failed":
		return verdictNotPushed, reasonCredentialFailing, fmt.Sprintf("the app's %s credential is refused by the vendor: %s", j.Vendor, why), false
	case strings.HasPrefix(j.Reason, "rejected") || last == "rejected":
		return verdictNotPushed, reasonRejected, "the vendor refused the push itself: " + why, false
	case last == "quota_exhausted":
		return verdictNotPushed, reasonQuotaExceeded, "the vendor's quota was used up: " + why, false
	case last == "retry":
		return verdictNotPushed, reasonThrottled, "the vendor kept answering with passing faults or throttling: " + why, false
	}
	return verdictNotPushed, reasonFailed, "failed: " + why, false
}

func lastAttempt(j jobView) string {
	if len(j.Attempts) == 0 {
		return ""
	}
	return j.Attempts[len(j.Attempts)-1].Outcome
}

// orAttemptReason is the job's reason, with its last attempt's vendor
// reason when it has one.
func orAttemptReason(j jobView) string {
	why := j.Reason
	if n := len(j.Attempts); n > 0 && j.Attempts[n-1].Reason != "" && !strings.Contains(why, j.Attempts[n-1].Reason) {
		why = strings.TrimPrefix(why+"; vendor: "+j.Attempts[n-1].Reason, "; ")
	}
	return why
}
