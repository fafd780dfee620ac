package im

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Registerer is where the service registers its metrics; nil registers none.
type Registerer = prometheus.Registerer

type metrics struct {
	messages      prometheus.Counter
	duplicates    prometheus.Counter
	commands      prometheus.Counter
	commitSeconds prometheus.Histogram
	batchSize     prometheus.Histogram
	// groupOps counts group changes by kind; groupPushSeconds times the
	// planning of one group message's offline pushes.
	groupOps         *prometheus.CounterVec
	groupPushSeconds prometheus.Histogram
	// latePushes counts push jobs planned after the commit for sessions
	// that ended without acknowledging; lateDropped the checks dropped
	// because too many waited.
	latePushes  prometheus.Counter
	lateDropped prometheus.Counter
	// revokes counts revoked messages by who revoked (revoke.go).
	revokes *prometheus.CounterVec
}

func newMetrics(reg Registerer) (*metrics, error) {
	m := &metrics{
		messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_messages_committed_total", Help: "Messages stored.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_messages_duplicate_total", Help: "Sends recognised as retries of a stored message.",
		}),
		commands: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_commands_routed_total", Help: "Command messages routed to live sessions (never stored).",
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "herald_commit_seconds", Help: "Time to commit one batch of messages.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "herald_commit_batch_messages", Help: "Messages per commit batch.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		groupOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_group_changes_total", Help: "Group changes by kind (create, joined, invited, left, kickedOut, dismissed, transfer, role).",
		}, []string{"kind"}),
		groupPushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "herald_group_push_plan_seconds", Help: "Time to write one group message's push jobs for its offline members.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		latePushes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_push_jobs_unacked_total", Help: "Push jobs planned when a session ended without acknowledging messages with a push config.",
		}),
		lateDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_push_unacked_checks_dropped_total", Help: "Ended sessions not checked for unacknowledged messages because too many waited (the messages wait for the next login).",
		}),
		revokes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_messages_revoked_total", Help: "Messages revoked, by who revoked (self, server_api, group_admin, group_owner).",
		}, []string{"by"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.messages, m.duplicates, m.commands, m.commitSeconds, m.batchSize, m.groupOps, m.groupPushSeconds, m.latePushes, m.lateDropped, m.revokes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("im: metrics: %w", err)
		}
	}
	return m, nil
}
