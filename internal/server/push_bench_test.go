package server_test

// Benchmarks of offline push through the whole path: a send to an offline
// recipient, the push job planned in the message's transaction, the
// dispatcher, the APNs provider, and the APNs emulator accepting the push.
// BenchmarkPushBareClient drives the same kind of emulator with the APNs
// provider alone, at the dispatcher's concurrency, as the ceiling the
// pipeline is compared with. docs/benchmarks.md ("Offline push") has the
// commands and numbers; compare the two within one invocation, as ratios.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	apnsemu "github.com/heraldim/herald/internal/emulator/apns"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/push/apns"
	"github.com/heraldim/herald/internal/testkit"
)

// pushLatencyRate is the send rate of BenchmarkPushLatency, in messages
// per second: set it to half of what BenchmarkPushPipeline measured.
var pushLatencyRate = flag.Int("push.rate", 2000, "BenchmarkPushLatency: messages per second, open loop")

// pushRTT is the vendor's round trip the push benchmarks' APNs emulator
// adds to every answer (a FaultSlow for every token): 0 measures the
// machine's CPU, a real vendor's 10-100 ms what the pushes in flight
// allow.
var pushRTT = flag.Duration("push.rtt", 0, "push benchmarks: the APNs emulator answers after this delay (a vendor's round trip)")

const (
	// pushRecipients is the number of offline users the benchmarks push
	// to, round robin, each with one APNs device.
	pushRecipients = 64
	// pushWindow is the sender's sends in flight (the server allows 1024
	// per session).
	pushWindow = 256
	// pushBareConcurrency is the dispatcher's default pushes in flight per
	// vendor (push.DispatcherConfig.Concurrency).
	pushBareConcurrency = 64
	// pushWait bounds the wait for the last push of a run.
	pushWait = 60 * time.Second
)

// pushCounter counts the pushes an emulator accepted and closes done at
// the target.
type pushCounter struct {
	n      atomic.Int64
	target int64
	done   chan struct{}
}

func newPushCounter(em *apnsemu.Emulator, target int, each func(apnsemu.Delivery)) *pushCounter {
	c := &pushCounter{target: int64(target), done: make(chan struct{})}
	em.OnDelivery(func(d apnsemu.Delivery) {
		if each != nil {
			each(d)
		}
		if c.n.Add(1) == c.target {
			close(c.done)
		}
	})
	return c
}

func (c *pushCounter) wait(b *testing.B) {
	b.Helper()
	select {
	case <-c.done:
	case <-time.After(pushWait):
		b.Fatalf("the emulator accepted %d of %d pushes within %s", c.n.Load(), c.target, pushWait)
	}
}

// newBenchAPNs starts an APNs emulator with a team key for bundle and
// pushRecipients development device tokens. Its records are kept short:
// the benchmarks count through OnDelivery.
func newBenchAPNs(b *testing.B) (*apnsemu.Emulator, []byte, []string) {
	b.Helper()
	em, err := apnsemu.New(apnsemu.Config{MaxRecords: 16})
	if err != nil {
		b.Fatal(err)
	}
	if err := em.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { em.Close() })
	if *pushRTT > 0 {
		em.InjectFault("", apnsemu.Fault{Kind: apnsemu.FaultSlow, Delay: *pushRTT})
	}
	em.AddApp("TEAM123456", bundle)
	key, err := em.NewKey("TEAM123456", "KEY1234567")
	if err != nil {
		b.Fatal(err)
	}
	toks := make([]string, pushRecipients)
	for i := range toks {
		toks[i] = em.RegisterDevice(bundle, apnsemu.Development, false)
	}
	return em, key, toks
}

// startPushServer starts a server with an APNs provider for the emulator
// and pushRecipients users who logged in with one of the tokens each and
// went offline. It returns the recipients' user IDs.
func startPushServer(b *testing.B) (*testkit.Server, *apnsemu.Emulator, []string) {
	b.Helper()
	s := testkit.Start(b, nil)
	em, key, toks := newBenchAPNs(b)
	installAPNs(b, s, em, key)
	users := make([]string, len(toks))
	for i, tok := range toks {
		users[i] = "r" + strconv.Itoa(i)
		goOffline(b, s, users[i], protocol.PushRegistration{Vendor: "apns", Token: tok, Environment: "development", BundleID: bundle})
	}
	return s, em, users
}

// pushSender is a server-side sender (platform "server", skipSync) on a
// raw connection that pipelines sends with a push config.
type pushSender struct {
	ws     *websocket.Conn
	window chan struct{}
	failed atomic.Pointer[string]
	done   chan struct{}
}

func dialPushSender(b *testing.B, s *testkit.Server, window int) *pushSender {
	b.Helper()
	ws, _, err := websocket.Dial(context.Background(), s.URL, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		b.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	p := &pushSender{ws: ws, window: make(chan struct{}, window), done: make(chan struct{})}
	b.Cleanup(func() { _ = ws.CloseNow(); <-p.done })
	login, _ := json.Marshal(protocol.LoginRequest{AppID: s.App.AppID, UserID: "pusher",
		Token: s.Token(b, "pusher", time.Hour), Platform: "server", DeviceID: "bench", SkipSync: true})
	f, _ := json.Marshal(protocol.Frame{Type: protocol.TypeLogin, ID: "login", Data: login})
	p.window <- struct{}{} // the login's reply releases it
	if err := ws.Write(context.Background(), websocket.MessageText, f); err != nil {
		b.Fatal(err)
	}
	go p.read()
	p.window <- struct{}{} // wait for the login reply
	<-p.window
	if msg := p.failed.Load(); msg != nil {
		b.Fatal(*msg)
	}
	return p
}

// read releases a window slot per reply and remembers the first error.
func (p *pushSender) read() {
	defer close(p.done)
	var f struct {
		Type  string          `json:"type"`
		ID    string          `json:"id"`
		Error *protocol.Error `json:"error"`
	}
	for {
		_, data, err := p.ws.Read(context.Background())
		if err != nil {
			return
		}
		f.Type, f.ID, f.Error = "", "", nil
		if err := json.Unmarshal(data, &f); err != nil || f.Type != protocol.TypeReply {
			continue
		}
		if f.Error != nil {
			msg := fmt.Sprintf("reply %s: %v", f.ID, f.Error)
			p.failed.CompareAndSwap(nil, &msg)
		}
		<-p.window
	}
}

// send writes message i to user with a push config whose payload is i,
// after taking a window slot (freed by the send's reply). The open-loop
// latency benchmark gives a window far above what its rate needs.
func (p *pushSender) send(b *testing.B, i int, user string) {
	p.window <- struct{}{}
	buf := make([]byte, 0, 256)
	buf = append(buf, `{"type":"send","id":"`...)
	buf = strconv.AppendInt(buf, int64(i), 10)
	buf = append(buf, `","data":{"conversationID":"`...)
	buf = append(buf, user...)
	buf = append(buf, `","localMessageID":"m`...)
	buf = strconv.AppendInt(buf, int64(i), 10)
	buf = append(buf, `","type":1,"text":"hello","pushConfig":{"title":"Pusher","content":"hello","payload":"`...)
	buf = strconv.AppendInt(buf, int64(i), 10)
	buf = append(buf, `"}}}`...)
	if err := p.ws.Write(context.Background(), websocket.MessageText, buf); err != nil {
		b.Fatalf("send %d: %v", i, err)
	}
}

func (p *pushSender) check(b *testing.B) {
	b.Helper()
	if msg := p.failed.Load(); msg != nil {
		b.Fatal(*msg)
	}
}

// BenchmarkPushPipeline pushes b.N messages through the whole path: a
// sender pipelines sends with a push config (pushWindow in flight), round
// robin to pushRecipients offline users with one APNs device each; the
// clock runs from the first send to the emulator's accepting the b.N-th
// push. It reports pushes per second. Use -benchtime 20000x or more.
func BenchmarkPushPipeline(b *testing.B) {
	s, em, users := startPushServer(b)
	cnt := newPushCounter(em, b.N, nil)
	p := dialPushSender(b, s, pushWindow)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		p.send(b, i, users[i%len(users)])
	}
	cnt.wait(b)
	el := time.Since(start)
	b.StopTimer()
	p.check(b)
	// The vendor call's mean time, as for the bare client: the two differ
	// by what the rest of the pipeline's CPU costs the calls in waiting.
	b.ReportMetric(s.Metric(b, `herald_push_vendor_seconds_sum{vendor="apns"}`)/s.Metric(b, `herald_push_vendor_seconds_count{vendor="apns"}`)*1000, "ms/vendor-call")
	b.ReportMetric(float64(b.N)/el.Seconds(), "pushes/s")
	b.ReportMetric(float64(el.Nanoseconds())/float64(b.N), "ns/op")
}

// BenchmarkPushBareClient sends b.N pushes to the same kind of emulator
// with the APNs provider alone (no server, no store, no dispatcher), from
// pushBareConcurrency goroutines as the dispatcher does, round robin to
// pushRecipients devices; the clock runs from the first send to the
// emulator's accepting the b.N-th push. It reports pushes per second, the
// ceiling for BenchmarkPushPipeline on the same machine.
func BenchmarkPushBareClient(b *testing.B) {
	em, key, toks := newBenchAPNs(b)
	prov, err := apns.New(apns.Config{
		ProductionURL: em.URL(apnsemu.Production), DevelopmentURL: em.URL(apnsemu.Development),
		KeyPEM: key, KeyID: "KEY1234567", TeamID: "TEAM123456", RootCAs: em.CertPool(),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { prov.Close() })
	cnt := newPushCounter(em, b.N, nil)
	var next, callNs atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, pushBareConcurrency)
	expires := time.Now().Add(time.Hour)
	b.ResetTimer()
	start := time.Now()
	for range pushBareConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				// What the dispatcher builds from a job (push.notification).
				n := push.Notification{
					ID: fmt.Sprintf("00000000-0000-4000-8000-%012x", i+1), Token: toks[int(i)%len(toks)],
					Environment: push.Development, Kind: push.KindAlert, Priority: push.PriorityHigh,
					Topic: bundle, Title: "Pusher", Content: "hello", Payload: strconv.FormatInt(i, 10), Expiration: expires,
				}
				t0 := time.Now()
				res, err := prov.Send(context.Background(), n)
				callNs.Add(int64(time.Since(t0)))
				if err == nil && res.Outcome != push.Delivered {
					err = fmt.Errorf("push %d: %s %d %s", i, res.Outcome, res.Status, res.Reason)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	cnt.wait(b)
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(callNs.Load())/float64(b.N)/1e6, "ms/vendor-call")
	b.ReportMetric(float64(b.N)/el.Seconds(), "pushes/s")
	b.ReportMetric(float64(el.Nanoseconds())/float64(b.N), "ns/op")
}

// BenchmarkPushLatency sends b.N messages with a push config at a fixed
// rate (-push.rate, open loop: a send that is due is written whether or not
// earlier ones were answered), round robin to the offline recipients, and
// reports the send-to-vendor latency: from just before the send's write to
// the emulator's receiving the push (both by this process's clock), p50,
// p99 and the maximum. b.N / rate is the run's length: -benchtime 20000x at
// 2000/s is 10 s.
func BenchmarkPushLatency(b *testing.B) {
	s, em, users := startPushServer(b)
	sent := make([]atomic.Int64, b.N) // send time, ns since start
	lat := make([]time.Duration, b.N)
	base := time.Now() // the hook reads it: set before the hook
	var bad atomic.Int64
	cnt := newPushCounter(em, b.N, func(d apnsemu.Delivery) {
		i, err := strconv.Atoi(fmt.Sprint(d.Payload["payload"]))
		if err != nil || i < 0 || i >= len(lat) {
			bad.Add(1)
			return
		}
		lat[i] = d.Received.Sub(base) - time.Duration(sent[i].Load())
	})
	// Open loop: the window only bounds memory, far above rate × latency.
	p := dialPushSender(b, s, 1000)
	rate := *pushLatencyRate
	interval := time.Second / time.Duration(rate)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		due := time.Duration(i) * interval
		if d := due - time.Since(start); d > 0 {
			time.Sleep(d)
		}
		sent[i].Store(int64(time.Since(base)))
		p.send(b, i, users[i%len(users)])
	}
	cnt.wait(b)
	el := time.Since(start)
	b.StopTimer()
	p.check(b)
	if n := bad.Load(); n > 0 {
		b.Fatalf("%d pushes without a known payload", n)
	}
	slices.Sort(lat)
	q := func(f float64) float64 {
		return float64(lat[min(len(lat)-1, int(f*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "pushes/s")
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.90), "p90-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(0, "ns/op")
}
