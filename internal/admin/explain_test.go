package admin

import (
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

// TestDecide: each reason of the push explanation from the evidence that
// makes it, the cases the end-to-end tests cannot stage at will
// (throttling, quota, a fan-out caught half-way, a failing credential).
func TestDecide(t *testing.T) {
	now := time.Now()
	m := im.Message{ID: 1, Sender: "alice", Recipient: "bob", PushConfig: &push.Content{Title: "t"}, CreatedAt: now}
	job := func(st push.JobStatus, reason string, outcomes ...string) jobView {
		j := jobView{PushID: "p", Vendor: push.VendorFCM, Status: st, Reason: reason, NotBefore: now}
		for i, o := range outcomes {
			j.Attempts = append(j.Attempts, attemptView{Attempt: i + 1, Outcome: o, Reason: "vendor says " + o})
		}
		return j
	}
	dev := func(enabled, eligible bool) explainDevice {
		return explainDevice{deviceView: deviceView{PushID: "p", Enabled: enabled}, Eligible: eligible}
	}
	tests := []struct {
		name, user      string
		rep             explainReply
		verdict, reason string
		inferred        bool
	}{
		{"outsider", "carol", explainReply{}, verdictNotPushed, reasonNotInConversation, false},
		{"sender", "alice", explainReply{Member: true}, verdictNotPushed, reasonSender, false},
		{"delivered wins", "bob", explainReply{Member: true, Jobs: []jobView{job(push.JobFailed, "x"), job(push.JobDelivered, "")}}, verdictPushed, reasonDelivered, false},
		{"queued", "bob", explainReply{Member: true, Jobs: []jobView{job(push.JobPending, "")}}, verdictPending, reasonQueued, false},
		{"throttled", "bob", explainReply{Member: true, Jobs: []jobView{job(push.JobPending, "retry", "retry")}}, verdictPending, reasonThrottled, false},
		{"held by quota", "bob", explainReply{Member: true, Jobs: []jobView{job(push.JobPending, "held back: vendor quota exhausted until x", "quota_exhausted", "held")}}, verdictPending, reasonQuotaExceeded, false},
		{"gave up throttled", "bob", explainReply{Member: true, Jobs: []jobView{job(push.JobFailed, "gave up after 5 attempts: 429", "retry")}}, verdictNotPushed, reasonThrottled, false},
		{"expired", "bob", explainReply{Member: true, Jobs: []jobView{job(push.JobExpired, "expired before it was sent")}}, verdictNotPushed, reasonExpired, false},
		{"dropped", "bob", explainReply{Member: true, Jobs: []jobView{job(push.JobDropped, "device unregistered")}}, verdictNotPushed, reasonDropped, false},
		{"not configured", "bob", explainReply{Member: true, Jobs: []jobView{job(push.JobFailed, push.ErrVendorNotConfigured.Error())}}, verdictNotPushed, reasonVendorNotConfigured, false},
		{"credential failing", "bob", explainReply{Member: true, Jobs: []jobView{job(push.JobFailed, "credential failing: 401", "auth_failed")}}, verdictNotPushed, reasonCredentialFailing, false},
		{"rejected", "bob", explainReply{Member: true, Jobs: []jobView{job(push.JobFailed, "rejected: bad topic", "rejected")}}, verdictNotPushed, reasonRejected, false},
		{"fan-out half-way", "bob", explainReply{Member: true, Fanout: &explainFanout{InProgress: true, AfterUser: "anna"}}, verdictPending, reasonFanoutInProgress, false},
		{"fan-out past the user", "bob", explainReply{Member: true, Fanout: &explainFanout{InProgress: true, AfterUser: "carl"}}, verdictNotPushed, reasonNoDevices, false},
		{"no devices", "bob", explainReply{Member: true}, verdictNotPushed, reasonNoDevices, false},
		{"all disabled", "bob", explainReply{Member: true, Devices: []explainDevice{dev(false, false)}}, verdictNotPushed, reasonDevicesDisabled, false},
		{"registered after", "bob", explainReply{Member: true, Devices: []explainDevice{dev(true, false)}}, verdictNotPushed, reasonNoDevices, false},
		{"live", "bob", explainReply{Member: true, Devices: []explainDevice{dev(true, true)}}, verdictNotPushed, reasonDeliveredLive, true},
	}
	for _, tt := range tests {
		v, r, d, inf := decide(m, tt.user, tt.rep)
		if v != tt.verdict || r != tt.reason || inf != tt.inferred || d == "" {
			t.Errorf("%s: %s %s %v %q, want %s %s %v", tt.name, v, r, inf, d, tt.verdict, tt.reason, tt.inferred)
		}
	}
	plain := m
	plain.PushConfig = nil
	if _, r, _, _ := decide(plain, "bob", explainReply{Member: true}); r != reasonNoPushConfig {
		t.Errorf("no push config: %s", r)
	}
}
