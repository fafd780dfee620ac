package gateway

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldim/herald/internal/limit"
)

type metrics struct {
	connections       prometheus.Gauge
	frames            *prometheus.CounterVec
	badFrames         prometheus.Counter
	loginFailures     *prometheus.CounterVec
	delivered         prometheus.Counter
	kicks             prometheus.Counter
	slow              prometheus.Counter
	shed              prometheus.Counter
	heartbeatTimeouts prometheus.Counter
	refused           *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, hub *Hub, conns *limit.Conns) (*metrics, error) {
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_connections", Help: "Open WebSocket connections, logged in or not.",
		}),
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_frames_received_total", Help: "Client frames received, by type.",
		}, []string{"type"}),
		badFrames: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_frames_rejected_total", Help: "Client frames rejected as malformed, unknown or oversized.",
		}),
		loginFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_login_failures_total", Help: "Failed logins, by error code name.",
		}, []string{"code"}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_messages_delivered_total", Help: "Message frames written to sessions (live and sync).",
		}),
		kicks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_sessions_kicked_total", Help: "Sessions closed because the user logged in elsewhere.",
		}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_sessions_slow_total", Help: "Sessions closed because they could not keep up.",
		}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_messages_shed_total", Help: "Messages dropped from a congested session's queue (delivered later from the store).",
		}),
		heartbeatTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_sessions_heartbeat_timeout_total", Help: "Sessions ended after the offline window passed in silence.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_connections_refused_total", Help: "WebSocket connections refused before the upgrade by a connection cap, by reason.",
		}, []string{"reason"}),
	}
	for _, r := range limit.Reasons() {
		m.refused.WithLabelValues(r.String())
	}
	if reg == nil {
		return m, nil
	}
	online := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "herald_sessions", Help: "Logged-in sessions.",
	}, func() float64 { return float64(hub.Sessions()) })
	unauth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "herald_connections_unauthenticated", Help: "Connections admitted that have not logged in yet.",
	}, func() float64 { _, n := conns.Counts(); return float64(n) })
	for _, c := range []prometheus.Collector{m.connections, m.frames, m.badFrames, m.loginFailures, m.delivered, m.kicks, m.slow, m.shed, m.heartbeatTimeouts, online,
		m.refused, unauth} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("gateway: metrics: %w", err)
		}
	}
	return m, nil
}
