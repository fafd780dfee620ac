package webhook

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	delivered  *prometheus.CounterVec
	failed     *prometheus.CounterVec
	dead       prometheus.Counter
	dropped    prometheus.Counter
	pending    prometheus.Gauge
	beforeSend *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_webhook_delivered_total", Help: "Webhook events the receiver accepted (2xx), by event.",
		}, []string{"event"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_webhook_failed_total", Help: "Webhook delivery attempts that failed (error, timeout or non-2xx), by event.",
		}, []string{"event"}),
		dead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_webhook_dead_total", Help: "Webhook events given up on after their last attempt.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_webhook_dropped_total", Help: "Webhook events dropped because the in-memory queue was full.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_webhook_pending", Help: "Webhook events in the outbox waiting for delivery.",
		}),
		beforeSend: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_webhook_before_send_total", Help: "Before-send hook calls by result (allow, deny, modify, fail_open, fail_closed).",
		}, []string{"result"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.delivered, m.failed, m.dead, m.dropped, m.pending, m.beforeSend} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("webhook: metrics: %w", err)
		}
	}
	return m, nil
}
