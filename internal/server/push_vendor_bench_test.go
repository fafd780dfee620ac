package server_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/testkit"
)

// BenchmarkPushVendors runs, for each of Huawei, Xiaomi, OPPO and vivo, the
// whole push path (a send to an offline user → push job → dispatcher →
// provider → the vendor's emulator accepting it) and, against a fresh
// emulator of the same vendor, the bare provider at the dispatcher's
// concurrency. Each reports pushes/s; compare pipeline and bare of one
// vendor within one invocation, as a ratio:
//
//	go test -run '^$' -bench BenchmarkPushVendors -benchtime 3000x ./internal/server
func BenchmarkPushVendors(b *testing.B) {
	for _, v := range androidVendors {
		b.Run(v.name+"/pipeline", func(b *testing.B) {
			s := testkit.Start(b, nil)
			rig := v.setup(b, s)
			if st, body := adminCall(b, s, "PUT", "/push/credentials/"+v.name, rig.cred); st != 200 {
				b.Fatalf("PUT credential: %d %v", st, body)
			}
			goOffline(b, s, "bob", protocol.PushRegistration{Vendor: v.name, Token: rig.token, Environment: "production", BundleID: pkg})
			p := dialPushSender(b, s, pushWindow)
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				p.send(b, i, "bob")
			}
			waitCount(b, rig.count, b.N)
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/el.Seconds(), "pushes/s")
			b.ReportMetric(float64(el.Nanoseconds())/float64(b.N), "ns/op")
		})
		b.Run(v.name+"/bare", func(b *testing.B) {
			rig := v.setup(b, nil)
			prov := rig.provider(b)
			var next atomic.Int64
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
						n := push.Notification{ID: fmt.Sprintf("00000000-0000-4000-8000-%012x", i+1), Token: rig.token,
							Environment: push.Production, Kind: push.KindAlert, Priority: push.PriorityHigh, Topic: pkg,
							Title: "Pusher", Content: "hello", Payload: fmt.Sprint(i), Expiration: expires}
						res, err := prov.Send(context.Background(), n)
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
			waitCount(b, rig.count, b.N)
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/el.Seconds(), "pushes/s")
			b.ReportMetric(float64(el.Nanoseconds())/float64(b.N), "ns/op")
		})
	}
}

// waitCount waits until count reports n pushes received.
func waitCount(b *testing.B, count func() int, n int) {
	b.Helper()
	deadline := time.Now().Add(pushWait)
	for count() < n {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d pushes arrived", count(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
