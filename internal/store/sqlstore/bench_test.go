package sqlstore

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/store/pgtest"
)

// benchConvs is how many peer conversations a benchmark batch spreads over:
// a gateway's group commit mixes many conversations, a few messages each.
const benchConvs = 16

// benchStore opens a store with one app in a fresh directory (on the same
// disk as the tests' temp dirs, so that DurabilityPower pays real fsyncs).
func benchStore(b *testing.B, d Durability) *Store {
	b.Helper()
	s := openTest(b, Config{Path: filepath.Join(b.TempDir(), "herald.db"), Durability: d})
	b.Cleanup(func() { s.Close() })
	if err := s.CreateApp(b.Context(), im.App{ID: "bench", Name: "bench", CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	return s
}

// benchBatch makes n messages of ~100 bytes with distinct local IDs, from
// id+1 on, round-robin over benchConvs conversations (both directions).
func benchBatch(id int64, n, convs int) []*im.Message {
	text := strings.Repeat("x", 100)
	hash := sha256.Sum256([]byte(text))
	now := time.Now()
	msgs := make([]*im.Message, n)
	for i := range msgs {
		id++
		c := i % convs
		from, to := "u"+strconv.Itoa(2*c), "u"+strconv.Itoa(2*c+1)
		if (i/convs)%2 == 1 {
			from, to = to, from
		}
		msgs[i] = &im.Message{
			AppID: "bench", ID: id, ConvID: im.PeerConvID(from, to), Sender: from, Recipient: to,
			Type: 1, Text: text, Priority: 2, LocalID: "l" + strconv.FormatInt(id, 10),
			ContentHash: hash[:], CreatedAt: now,
		}
	}
	return msgs
}

// BenchmarkAppendMessages measures AppendMessages, one batch per iteration.
func BenchmarkAppendMessages(b *testing.B) {
	for _, d := range []Durability{DurabilityProcess, DurabilityPower} {
		for _, size := range []int{1, 16, 128, 512} {
			b.Run(fmt.Sprintf("%s/batch=%d", d, size), func(b *testing.B) {
				s := benchStore(b, d)
				var id int64
				for b.Loop() {
					if _, err := s.AppendMessages(b.Context(), benchBatch(id, size, benchConvs)); err != nil {
						b.Fatal(err)
					}
					id += int64(size)
				}
				b.ReportMetric(float64(id)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
	// The same batches on PostgreSQL (HERALD_TEST_POSTGRES; skipped
	// without), one fresh database per size.
	for _, size := range []int{1, 16, 128, 512} {
		b.Run(fmt.Sprintf("postgres/batch=%d", size), func(b *testing.B) {
			s, err := OpenPostgres(b.Context(), PostgresConfig{URL: pgtest.Fresh(b)}, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			if err := s.CreateApp(b.Context(), im.App{ID: "bench", Name: "bench", CreatedAt: time.Now()}); err != nil {
				b.Fatal(err)
			}
			var id int64
			for b.Loop() {
				if _, err := s.AppendMessages(b.Context(), benchBatch(id, size, benchConvs)); err != nil {
					b.Fatal(err)
				}
				id += int64(size)
			}
			b.ReportMetric(float64(id)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkMessagesAfter reads a conversation of 10,000 messages in pages
// of 500, one full read per iteration.
func BenchmarkMessagesAfter(b *testing.B) {
	const total, page = 10_000, 500
	s := benchStore(b, DurabilityProcess)
	var conv string
	for id := int64(0); id < total; id += 500 {
		msgs := benchBatch(id, 500, 1)
		conv = msgs[0].ConvID
		if _, err := s.AppendMessages(b.Context(), msgs); err != nil {
			b.Fatal(err)
		}
	}
	read := 0
	for b.Loop() {
		var after int64
		for {
			ms, err := s.MessagesAfter(b.Context(), "bench", conv, after, page)
			if err != nil {
				b.Fatal(err)
			}
			read += len(ms)
			if len(ms) < page {
				break
			}
			after = ms[len(ms)-1].Seq
		}
	}
	if read%total != 0 {
		b.Fatalf("read %d messages, want a multiple of %d", read, total)
	}
	b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkAppendMessagesWebhook is BenchmarkAppendMessages (process
// durability) with and without each message's message.sent outbox row:
// what the after-send webhook costs the commit.
func BenchmarkAppendMessagesWebhook(b *testing.B) {
	for _, hooked := range []bool{false, true} {
		for _, size := range []int{16, 512} {
			b.Run(fmt.Sprintf("webhook=%v/batch=%d", hooked, size), func(b *testing.B) {
				s := benchStore(b, DurabilityProcess)
				var id int64
				for b.Loop() {
					msgs := benchBatch(id, size, benchConvs)
					for _, m := range msgs {
						m.Webhook = hooked
					}
					if _, err := s.AppendMessages(b.Context(), msgs); err != nil {
						b.Fatal(err)
					}
					id += int64(size)
				}
				b.ReportMetric(float64(id)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}

// BenchmarkPlanGroupPush measures planning one page of a group push: 500
// offline members with one enabled device each, one job per member, in
// PlanGroupPush's one transaction.
func BenchmarkPlanGroupPush(b *testing.B) {
	const members = 500
	s := benchStore(b, DurabilityProcess)
	ctx := b.Context()
	users := make([]string, members)
	for i := range users {
		users[i] = "m" + strconv.Itoa(i)
		tok := "tok" + strconv.Itoa(i)
		d := push.Device{AppID: "bench", PushID: push.NewPushID("bench", push.VendorAPNs, push.Development, tok),
			Vendor: push.VendorAPNs, Token: tok, Environment: push.Development, BundleID: "b", UserID: users[i], Enabled: true}
		if err := s.RegisterDevice(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
	f := im.GroupFanout{AppID: "bench", GroupID: "g", Sender: "m0", PushConfig: push.Content{Title: "t", Content: "c"}}
	for b.Loop() {
		f.MessageID++
		if err := s.PlanGroupPush(ctx, f, users, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*members), "ns/member")
}

// BenchmarkAppendMessagesSpread is BenchmarkAppendMessages (process
// durability) with batches spread over many conversations, as a gateway's
// commit with hundreds of active pairs makes them: a conversation row or
// two per message.
func BenchmarkAppendMessagesSpread(b *testing.B) {
	for _, convs := range []int{16, 256} {
		b.Run(fmt.Sprintf("batch=512/convs=%d", convs), func(b *testing.B) {
			s := benchStore(b, DurabilityProcess)
			var id int64
			for b.Loop() {
				if _, err := s.AppendMessages(b.Context(), benchBatch(id, 512, convs)); err != nil {
					b.Fatal(err)
				}
				id += 512
			}
			b.ReportMetric(float64(id)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
