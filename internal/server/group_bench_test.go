package server_test

// Benchmarks of a large group: BenchmarkBigGroup sets up a group of
// bigGroupMembers members of whom bigGroupOnline are online (the rest are
// offline with one APNs device each) and measures
//
//   - push: from a send with a push config to every offline member's push
//     accepted by the APNs emulator (ms per message; pushes per second),
//     and the sender's reply time, which must not wait for the planning;
//   - fanout: live deliveries per second to the online members.
//
// docs/benchmarks.md ("Large groups") has the command and the numbers.

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldim/herald/internal/config"
	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/testkit"
)

const (
	bigGroupMembers = 10000
	bigGroupOnline  = 1000 // the sender among them: 90 % offline
)

func bigUser(i int) string { return fmt.Sprintf("u%05d", i) }

func BenchmarkBigGroup(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	s1 := testkit.Start(b, func(c *config.Config) { c.DataDir = dir })
	app := s1.App.AppID
	s1.Stop(b)

	// Users, devices and the group go straight into the store: logging
	// 10,000 users in would take longer than everything measured.
	em, key, _ := newBenchAPNs(b)
	st := testkit.OpenStore(b, dir, nil)
	now := time.Now()
	members := make([]im.GroupMember, 0, bigGroupMembers)
	for i := range bigGroupMembers {
		u := bigUser(i)
		if err := st.RecordUser(ctx, app, u); err != nil {
			b.Fatal(err)
		}
		role := protocol.RoleMember
		if i == 0 {
			role = protocol.RoleOwner
		}
		members = append(members, im.GroupMember{UserID: u, Role: role, JoinedAt: now})
		if i < bigGroupOnline {
			continue
		}
		tok := em.RegisterDevice(bundle, apnsemu.Development, false)
		if err := st.RegisterDevice(ctx, push.Device{AppID: app, PushID: push.NewPushID(app, push.VendorAPNs, push.Development, tok),
			Vendor: push.VendorAPNs, Token: tok, Environment: push.Development, Platform: "ios", BundleID: bundle,
			UserID: u, Enabled: true}); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.CreateGroup(ctx, im.Group{AppID: app, ID: "big", Name: "Big", Owner: bigUser(0), CreatedAt: now}, members); err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}

	s := testkit.Start(b, func(c *config.Config) { c.DataDir = dir })
	installAPNs(b, s, em, key)
	sender := s.LoginAs(b, bigUser(0), "server", "bench")
	sender.SyncDone(wait)
	var delivered atomic.Int64
	for i := 1; i < bigGroupOnline; i++ {
		dialCounting(b, s, bigUser(i), &delivered)
	}
	for !s.Srv.Online(app, bigUser(bigGroupOnline-1)) {
		time.Sleep(10 * time.Millisecond)
	}
	seq := 0
	waitReply := func(id string, ch chan protocol.Frame) {
		if f := sender.Wait(ch, pushWait); f.Error != nil {
			b.Fatalf("send %s: %v", id, f.Error)
		}
	}

	b.Run("push", func(b *testing.B) {
		offline := bigGroupMembers - bigGroupOnline
		var total, ack time.Duration
		for range b.N {
			c := newPushCounter(em, offline, nil)
			before := delivered.Load()
			start := time.Now()
			seq++
			id := strconv.Itoa(seq)
			ch := sender.Expect(id)
			sender.Send(protocol.TypeSend, id, protocol.SendRequest{ConversationID: "big", ConversationType: protocol.ConversationGroup,
				LocalMessageID: "m" + id, Type: protocol.MessageText, Text: "standup",
				PushConfig: &protocol.PushConfig{Title: "Big", Content: "u00000: standup"}})
			waitReply(id, ch)
			ack += time.Since(start)
			c.wait(b)
			total += time.Since(start)
			waitDelivered(b, &delivered, before+bigGroupOnline-1)
		}
		em.OnDelivery(nil)
		plan := s.Metric(b, "herald_group_push_plan_seconds_sum") / s.Metric(b, "herald_group_push_plan_seconds_count")
		b.ReportMetric(plan*1000, "ms/plan")
		b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/all-pushes")
		b.ReportMetric(float64(offline*b.N)/total.Seconds(), "pushes/s")
		b.ReportMetric(float64(ack.Microseconds())/float64(b.N)/1000, "ms/reply")
	})

	b.Run("fanout", func(b *testing.B) {
		const window = 32
		before := delivered.Load()
		want := before + int64(b.N)*(bigGroupOnline-1)
		start := time.Now()
		type pending struct {
			id string
			ch chan protocol.Frame
		}
		var inflight []pending
		for range b.N {
			if len(inflight) == window {
				waitReply(inflight[0].id, inflight[0].ch)
				inflight = inflight[1:]
			}
			seq++
			id := strconv.Itoa(seq)
			ch := sender.Expect(id)
			sender.Send(protocol.TypeSend, id, protocol.SendRequest{ConversationID: "big", ConversationType: protocol.ConversationGroup,
				LocalMessageID: "m" + id, Type: protocol.MessageText, Text: "hello everyone"})
			inflight = append(inflight, pending{id, ch})
		}
		for _, p := range inflight {
			waitReply(p.id, p.ch)
		}
		waitDelivered(b, &delivered, want)
		el := time.Since(start)
		b.ReportMetric(float64(int64(b.N)*(bigGroupOnline-1))/el.Seconds(), "deliveries/s")
		b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	})
}

// waitDelivered waits until the online members' readers counted want
// messages in all.
func waitDelivered(b *testing.B, n *atomic.Int64, want int64) {
	b.Helper()
	deadline := time.Now().Add(pushWait)
	for n.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("members received %d of %d messages", n.Load(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// dialCounting logs user in on a raw connection that counts the message
// events it reads into n (and acknowledges nothing).
func dialCounting(b *testing.B, s *testkit.Server, user string, n *atomic.Int64) {
	b.Helper()
	ws, _, err := websocket.Dial(context.Background(), s.URL, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		b.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	login, _ := json.Marshal(protocol.LoginRequest{AppID: s.App.AppID, UserID: user,
		Token: s.Token(b, user, time.Hour), Platform: "android", DeviceID: "d-" + user})
	f, _ := json.Marshal(protocol.Frame{Type: protocol.TypeLogin, ID: "login", Data: login})
	if err := ws.Write(context.Background(), websocket.MessageText, f); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	b.Cleanup(func() { _ = ws.CloseNow(); <-done })
	go func() {
		defer close(done)
		prefix := []byte(`{"type":"message"`)
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			if len(data) > len(prefix) && string(data[:len(prefix)]) == string(prefix) {
				n.Add(1)
			}
		}
	}()
}
