package bus

import (
	"encoding/json"

	"github.com/nats-io/nats.go"
)

// Control is one broadcast to every node: a kick, a token revocation, an
// app closed, or a cache entry dropped. Op names the handler (Handle);
// the other fields are its arguments.
type Control struct {
	Op     string `json:"op"`
	Node   string `json:"n"` // the sender; it does not get its own
	AppID  string `json:"a,omitempty"`
	UserID string `json:"u,omitempty"`
	// At is a time argument in Unix milliseconds (a revocation's cut-off).
	At int64 `json:"t,omitempty"`
}

// Handle registers f for broadcasts of op from the other nodes (one
// handler per op; a later one replaces). f runs on the bus's delivery
// goroutine: it must not block for long.
func (b *Bus) Handle(op string, f func(Control)) {
	b.ctlMu.Lock()
	defer b.ctlMu.Unlock()
	b.handlers[op] = f
}

// Broadcast sends c to the other nodes, at most once: a node that is
// disconnected at that moment misses it (see the package comment).
func (b *Bus) Broadcast(c Control) {
	c.Node = b.cfg.NodeID
	b.publish(b.subject("ctl"), c)
}

func (b *Bus) onControl(msg *nats.Msg) {
	var c Control
	if err := json.Unmarshal(msg.Data, &c); err != nil {
		b.log.Warn("bus: a control message that does not decode", "err", err)
		return
	}
	if c.Node == b.cfg.NodeID {
		return
	}
	b.ctlMu.RLock()
	f := b.handlers[c.Op]
	b.ctlMu.RUnlock()
	if f != nil {
		f(c)
	}
}
