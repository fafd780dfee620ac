package bus

import (
	"context"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/route"
)

// BenchmarkRoute (on the default 1 s heartbeat: the tests' 50 ms one
// expires a node whose heartbeat waits behind a busy CPU): one message routed from node 0 to bob, whose session is
// on node 0 (local: the registry alone) or on node 1 (remote: encoded,
// published, decoded and handed to node 1's registry), and Online for a
// user on the other node (the presence table, no network). Each
// iteration's deliveries are settled at the end, so remote counts the
// whole way.
func BenchmarkRoute(b *testing.B) {
	url := natsURL(b)
	for _, where := range []string{"local", "remote", "local", "remote"} {
		b.Run(where, func(b *testing.B) {
			c := newClusterBeat(b, url, 2, nil, time.Second)
			home := 0
			if where == "remote" {
				home = 1
			}
			s := c.locals[home].login("app", "bob", "ios")
			c.nodes[home].UserChanged("app", "bob")
			c.waitFor("bob online on node 0", func() bool { return c.nodes[0].Online("app", "bob") })
			m := &im.Message{AppID: "app", ID: 1, ConvID: "c", Seq: 1, Sender: "alice", Recipient: "bob", Priority: 2, Text: "hello bob, a short message"}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c.nodes[0].Route(m, route.NoSession)
			}
			if err := c.nodes[0].Settle(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if got := len(s.take()); got != b.N {
				d, _ := c.nodes[1].subs[0].Dropped()
				b.Fatalf("bob got %d of %d (publish failures %d, dropped by the subscriber %d, last error %v)", got, b.N, c.nodes[0].PublishFailures(), d, c.nodes[1].nc.LastError())
			}
		})
	}
	b.Run("online-remote", func(b *testing.B) {
		c := newClusterBeat(b, url, 2, nil, time.Second)
		c.locals[1].login("app", "bob", "ios")
		c.nodes[1].UserChanged("app", "bob")
		c.waitFor("bob online on node 0", func() bool { return c.nodes[0].Online("app", "bob") })
		b.ResetTimer()
		for range b.N {
			if !c.nodes[0].Online("app", "bob") {
				b.Fatal("offline")
			}
		}
	})
}
