package call

import (
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldim/herald/internal/protocol"
)

type metrics struct {
	calls  prometheus.Counter
	open   prometheus.Gauge
	states *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_calls_started_total", Help: "Calls started by callInvite.",
		}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_calls_open", Help: "Calls open (someone still ringing or in the call).",
		}),
		states: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_call_user_states_total", Help: "Call users entering each state (inviting, received, accepted, rejected, cancelled, timeout, quit, ended).",
		}, []string{"state"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.calls, m.open, m.states} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("call: metrics: %w", err)
		}
	}
	return m, nil
}

var stateNames = map[int]string{
	protocol.CallInviting: "inviting", protocol.CallAccepted: "accepted", protocol.CallRejected: "rejected",
	protocol.CallCancelled: "cancelled", protocol.CallReceived: "received", protocol.CallTimeout: "timeout",
	protocol.CallQuit: "quit", protocol.CallEnded: "ended",
}

// stateName is a user state's metric label.
func stateName(st int) string {
	if n, ok := stateNames[st]; ok {
		return n
	}
	return strconv.Itoa(st)
}

// entered counts users entering their states.
func (m *metrics) entered(users []User) {
	for _, u := range users {
		m.states.WithLabelValues(stateName(u.State)).Inc()
	}
}
