package push

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Push receipts and statistics.
//
// Every push carries the ID of its job under ReceiptExtraKey in the custom
// data the app gets (Notification.Extra; FCM, Huawei and OPPO carried it
// already as their push_id; HarmonyOS, Honor and Web Push put it there
// themselves, from Notification.ID). The app reports what the device did
// with the push, a Receipt, naming that ID; the server ties it to the job, and so
// to the app, the user and the vendor, and counts it once per job and
// kind. The store keeps the counts in a rollup (ReceiptStore, StatsStore)
// written in the transactions that record what they count.

// ReceiptExtraKey is the custom-data key of a push's job ID (JobRef), for
// the app to report receipts with and to drop duplicates.
const ReceiptExtraKey = "push_id"

// ReceiptKind says what a receipt reports.
type ReceiptKind string

// The receipt kinds: the push SDK's callbacks (the seed's
// ZPNsEventHandler).
const (
	// ReceiptArrived: the SDK raised notificationArrived (the system
	// showed the notification). Only vendors whose SDK raises it in some
	// app state (CapabilityOf) take it: APNs, Xiaomi and Web Push.
	ReceiptArrived ReceiptKind = "notificationArrived"
	// ReceiptClicked: the user tapped the notification
	// (notificationClicked); every vendor.
	ReceiptClicked ReceiptKind = "notificationClicked"
)

// Stat events: what the rollup counts (StatsRow.Event).
const (
	StatPlanned  = "planned"  // a job was written for a device
	StatSent     = "sent"     // a vendor was called for a job (each attempt)
	StatAccepted = "accepted" // the vendor accepted a job
	StatFailed   = "failed"   // a job ended undelivered; Reason is its last attempt's outcome
	StatArrived  = "arrived"  // a notificationArrived receipt
	StatClicked  = "clicked"  // a notificationClicked receipt
)

// Errors of a receipt the app got wrong; nothing is recorded.
var (
	// ErrBadReceipt: the kind is not one of the receipt kinds, or the push
	// ID is not a push's ReceiptExtraKey value.
	ErrBadReceipt = errors.New("push: invalid receipt")
	// ErrReceiptUnsupported: the push's vendor raises no such callback
	// (notificationArrived from a vendor whose SDK never raises it).
	ErrReceiptUnsupported = errors.New("push: the vendor raises no such callback")
)

// JobRef is the form of a job's ID a push carries (the job's UUID, as in
// APNs apns-id).
func JobRef(id int64) string { return jobUUID(id) }

// ParseJobRef reads a JobRef back into the job's ID; ErrBadReceipt when s
// is not one.
func ParseJobRef(s string) (int64, error) {
	const prefix = "00000000-0000-4000-8000-"
	hex, ok := strings.CutPrefix(strings.ToLower(s), prefix)
	if !ok || len(hex) != 12 {
		return 0, fmt.Errorf("%w: pushJobID %q is not a push's %s", ErrBadReceipt, truncateRef(s), ReceiptExtraKey)
	}
	id, err := strconv.ParseInt(hex, 16, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: pushJobID %q is not a push's %s", ErrBadReceipt, truncateRef(s), ReceiptExtraKey)
	}
	return id, nil
}

func truncateRef(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// ParseReceiptKind checks a receipt kind's name.
func ParseReceiptKind(s string) (ReceiptKind, error) {
	switch k := ReceiptKind(s); k {
	case ReceiptArrived, ReceiptClicked:
		return k, nil
	}
	return "", fmt.Errorf("%w: kind %q (want notificationArrived or notificationClicked)", ErrBadReceipt, truncateRef(s))
}

// ReceiptSupported reports whether a device of vendor v reports receipts
// of kind k: notificationArrived where the seed's table has the vendor's
// SDK raise it in some app state, notificationClicked everywhere (any
// notification the system shows can be tapped).
func ReceiptSupported(v Vendor, k ReceiptKind) bool {
	if k == ReceiptClicked {
		_, ok := capabilities[v]
		return ok
	}
	for _, c := range capabilities[v] {
		if c.NotificationArrived {
			return true
		}
	}
	return false
}

// Receipt is one report of what a device did with a push.
type Receipt struct {
	AppID string
	JobID int64
	// Vendor is the job's (the store checks it is).
	Vendor Vendor
	Kind   ReceiptKind
	At     time.Time
}

// ReceiptStore is the store capability receipts need.
type ReceiptStore interface {
	// ReceiptJob returns the user and vendor of app appID's job id;
	// ErrNotFound when the app has no such job.
	ReceiptJob(ctx context.Context, appID string, id int64) (userID string, v Vendor, err error)
	// RecordReceipt records r and counts it in the rollup, in one
	// transaction, unless the job has a receipt of r's kind already
	// (recorded false: nothing changes).
	RecordReceipt(ctx context.Context, r Receipt) (recorded bool, err error)
}

// StatsQuery selects an app's statistics: buckets of Bucket (an hour or a
// day, UTC) from From (inclusive, a bucket's start) to To (exclusive),
// of one vendor or, when Vendor is empty, each.
type StatsQuery struct {
	AppID  string
	From   time.Time
	To     time.Time
	Bucket time.Duration
	Vendor Vendor
}

// StatsRow is one count of the rollup: in the bucket starting at Start,
// how many Event of Vendor (and Reason, for StatFailed).
type StatsRow struct {
	Start  time.Time
	Vendor Vendor
	Event  string
	Reason string
	N      int64
}

// StatsStore reads the rollup.
type StatsStore interface {
	// PushStats returns q's counts, by bucket start then vendor, event
	// and reason; buckets without any are left out.
	PushStats(ctx context.Context, q StatsQuery) ([]StatsRow, error)
}

// Receipts records the receipts the apps report.
type Receipts struct {
	store    ReceiptStore
	now      func() time.Time
	receipts *prometheus.CounterVec
}

// NewReceipts returns the receipts service over store; now is its clock
// (time.Now when nil). It registers herald_push_receipts_total on reg
// (when not nil).
func NewReceipts(store ReceiptStore, now func() time.Time, reg prometheus.Registerer) (*Receipts, error) {
	if store == nil {
		return nil, errors.New("push: receipts: a store is required")
	}
	if now == nil {
		now = time.Now
	}
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_push_receipts_total",
		Help: "Push receipts recorded (duplicates not counted), by vendor and kind (arrived, clicked).",
	}, []string{"vendor", "kind"})
	if reg != nil {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("push: receipts: metrics: %w", err)
		}
	}
	return &Receipts{store: store, now: now, receipts: c}, nil
}

// Report records user userID's receipt of kind for the push whose
// ReceiptExtraKey was ref. A receipt already recorded for the job and
// kind changes nothing (duplicate true). Errors: ErrBadReceipt,
// ErrNotFound (no such push of the app sent to this user: another app's
// or user's job is not told apart from none), ErrReceiptUnsupported.
func (r *Receipts) Report(ctx context.Context, appID, userID, kind, ref string) (duplicate bool, err error) {
	k, err := ParseReceiptKind(kind)
	if err != nil {
		return false, err
	}
	id, err := ParseJobRef(ref)
	if err != nil {
		return false, err
	}
	owner, v, err := r.store.ReceiptJob(ctx, appID, id)
	if err != nil {
		return false, err
	}
	if owner != userID {
		return false, ErrNotFound
	}
	if !ReceiptSupported(v, k) {
		return false, fmt.Errorf("%w: %s raises no %s", ErrReceiptUnsupported, v, k)
	}
	recorded, err := r.store.RecordReceipt(ctx, Receipt{AppID: appID, JobID: id, Vendor: v, Kind: k, At: r.now()})
	if err != nil {
		return false, fmt.Errorf("push: receipt: %w", err)
	}
	if recorded {
		r.receipts.WithLabelValues(string(v), ReceiptStat(k)).Inc()
	}
	return !recorded, nil
}

// ReceiptStat is the stat event (StatArrived, StatClicked) of a receipt
// kind: the rollup's and the metric's label.
func ReceiptStat(k ReceiptKind) string {
	if k == ReceiptArrived {
		return StatArrived
	}
	return StatClicked
}

// FinishStats says what one recorded finish counts in the rollup: sent
// when the attempt called the vendor (Finish.Sent), and the job's end when
// it ended (StatAccepted, or StatFailed with the attempt's outcome as
// reason). The stores and the dispatcher's metrics share it, so the two
// count alike.
func FinishStats(f Finish) (sent bool, end, reason string) {
	if f.NoCall {
		return false, "", ""
	}
	sent = f.Sent
	switch f.Status {
	case JobDelivered:
		end = StatAccepted
	case JobDropped, JobFailed, JobExpired:
		end, reason = StatFailed, f.Attempt.Outcome
	}
	return sent, end, reason
}

// outcomeMetrics are the dispatcher's counters of the statistics' events.
type outcomeMetrics struct {
	sent     *prometheus.CounterVec
	accepted *prometheus.CounterVec
	failed   *prometheus.CounterVec
}

func newOutcomeMetrics(reg prometheus.Registerer) (*outcomeMetrics, error) {
	m := &outcomeMetrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_push_sent_total", Help: "Vendor calls for push jobs (each attempt), by vendor.",
		}, []string{"vendor"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_push_accepted_total", Help: "Push jobs the vendor accepted, by vendor.",
		}, []string{"vendor"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_push_failed_total", Help: "Push jobs ended undelivered, by vendor and reason (the last attempt's outcome).",
		}, []string{"vendor", "reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.sent, m.accepted, m.failed} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("push: metrics: %w", err)
		}
	}
	return m, nil
}

// count adds recorded finish f of vendor v.
func (m *outcomeMetrics) count(v Vendor, f Finish) {
	sent, end, reason := FinishStats(f)
	if sent {
		m.sent.WithLabelValues(string(v)).Inc()
	}
	switch end {
	case StatAccepted:
		m.accepted.WithLabelValues(string(v)).Inc()
	case StatFailed:
		m.failed.WithLabelValues(string(v), reason).Inc()
	}
}
