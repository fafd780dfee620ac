package gateway

import (
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/route"
)

// BenchmarkHubRoute routes a peer message to a sender and a recipient
// with two sessions each, skipping the sending one: the hub's part of the
// send path.
func BenchmarkHubRoute(b *testing.B) {
	h := NewHub()
	var ss []*Session
	for _, u := range []string{"alice", "alice", "bob", "bob"} {
		s := &Session{id: newID(), appID: "app", userID: u, platform: "web", since: time.Now(), q: newQueue(1<<20, nil)}
		h.register(s, PolicyMulti)
		ss = append(ss, s)
	}
	m := &im.Message{AppID: "app", ID: 1, ConvID: "c", Seq: 1, Sender: "alice", Recipient: "bob", Priority: 2}
	origin := route.SessionID(ss[0].id)
	var buf []item
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		h.Route(m, origin)
		if i%1024 == 1023 {
			for _, s := range ss {
				buf, _ = s.q.pop(buf)
			}
		}
	}
}
