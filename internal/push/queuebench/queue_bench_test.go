package queuebench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// jobs is how many jobs one run enqueues, claims and acks.
const jobs = 20000

// claimBatch is how many jobs a consumer claims at once (the dispatcher's
// slots: a fraction of push-concurrency 64).
const claimBatch = 64

// enqueueBatch is how many jobs one transaction (one message commit)
// enqueues.
const enqueueBatch = 100

var payload = make([]byte, 200) // about a push job's push_config

func suffix(b *testing.B) string {
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		b.Fatal(err)
	}
	return hex.EncodeToString(r[:])
}

// rounds is how many times each case runs, alternating PostgreSQL and
// NATS (-count would run each case's repeats back to back).
const rounds = 3

// BenchmarkQueue: one op is a whole run of `jobs` jobs. jobs/s is the
// whole run's figure (enqueue, then claim and ack); enqueue/s and claim/s
// are its two phases'.
func BenchmarkQueue(b *testing.B) {
	for range rounds {
		for _, consumers := range []int{1, 3} {
			b.Run("pg/consumers="+strconv.Itoa(consumers), func(b *testing.B) { benchPG(b, consumers) })
			b.Run("nats/consumers="+strconv.Itoa(consumers), func(b *testing.B) { benchNATS(b, consumers) })
		}
	}
}

// report records a run's figures: enqueued is when the enqueue phase
// ended.
func report(b *testing.B, start, enqueued time.Time) {
	end := time.Now()
	b.ReportMetric(float64(jobs)/end.Sub(start).Seconds(), "jobs/s")
	b.ReportMetric(float64(jobs)/enqueued.Sub(start).Seconds(), "enqueue/s")
	b.ReportMetric(float64(jobs)/end.Sub(enqueued).Seconds(), "claim/s")
}

func benchPG(b *testing.B, consumers int) {
	url := os.Getenv("HERALD_TEST_POSTGRES")
	if url == "" {
		b.Skip("HERALD_TEST_POSTGRES is not set: no PostgreSQL to benchmark the claim against")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	table := "queue_bench_" + suffix(b)
	// The shape of push_jobs' queue columns and its claim index.
	if _, err := pool.Exec(ctx, `CREATE TABLE `+table+` (
	id BIGSERIAL PRIMARY KEY, vendor TEXT NOT NULL, status TEXT NOT NULL, not_before BIGINT NOT NULL,
	lease_owner TEXT NOT NULL DEFAULT '', lease_until BIGINT NOT NULL DEFAULT 0, push_config BYTEA NOT NULL);
CREATE INDEX `+table+`_claim ON `+table+` (vendor, not_before, id, lease_until) WHERE status = 'pending'`); err != nil {
		b.Fatal(err)
	}
	defer func() { _, _ = pool.Exec(context.Background(), `DROP TABLE `+table) }()
	claim := `UPDATE ` + table + ` SET lease_owner = $4, lease_until = $5
WHERE id IN (SELECT id FROM ` + table + `
	WHERE vendor = $1 AND status = 'pending' AND not_before <= $2 AND lease_until <= $2
	ORDER BY not_before, id LIMIT $3 FOR UPDATE SKIP LOCKED)
RETURNING id`
	finish := `UPDATE ` + table + ` SET status = 'delivered', lease_owner = '', lease_until = 0
WHERE id = ANY($1) AND lease_owner = $2`
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		now := start.UnixMilli()
		for i := 0; i < jobs; i += enqueueBatch {
			rows := make([][]any, enqueueBatch)
			for k := range rows {
				rows[k] = []any{"fcm", "pending", now, payload}
			}
			if _, err := pool.CopyFrom(ctx, pgx.Identifier{table}, []string{"vendor", "status", "not_before", "push_config"},
				pgx.CopyFromRows(rows)); err != nil {
				b.Fatal(err)
			}
		}
		enqueued := time.Now()
		var done atomic.Int64
		var wg sync.WaitGroup
		for c := range consumers {
			owner := "node-" + strconv.Itoa(c)
			wg.Go(func() {
				for done.Load() < jobs {
					ids := make([]int64, 0, claimBatch)
					now := time.Now().UnixMilli()
					rows, err := pool.Query(ctx, claim, "fcm", now, claimBatch, owner, now+120000)
					if err != nil {
						b.Error(err)
						return
					}
					for rows.Next() {
						var id int64
						if err := rows.Scan(&id); err != nil {
							b.Error(err)
						}
						ids = append(ids, id)
					}
					rows.Close()
					if len(ids) == 0 {
						continue
					}
					if _, err := pool.Exec(ctx, finish, ids, owner); err != nil {
						b.Error(err)
						return
					}
					done.Add(int64(len(ids)))
				}
			})
		}
		wg.Wait()
		report(b, start, enqueued)
		b.StopTimer()
		if _, err := pool.Exec(ctx, `TRUNCATE `+table); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

func benchNATS(b *testing.B, consumers int) {
	url := os.Getenv("HERALD_TEST_NATS")
	if url == "" {
		b.Skip("HERALD_TEST_NATS is not set: no NATS to benchmark the work-queue stream against")
	}
	ctx := context.Background()
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	name := "QUEUEBENCH_" + suffix(b)
	subject := "queuebench." + name
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subject},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = js.DeleteStream(context.Background(), name) }()
	cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "dispatch",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: 2 * time.Minute, MaxAckPending: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		for i := 0; i < jobs; i += enqueueBatch {
			// One commit's jobs: published, then every ack awaited (the
			// job is durable only once the stream acknowledged it).
			for range enqueueBatch {
				if _, err := js.PublishAsync(subject, payload); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(30 * time.Second):
				b.Fatal("publish acks timed out")
			}
		}
		enqueued := time.Now()
		var done atomic.Int64
		var wg sync.WaitGroup
		for range consumers {
			wg.Go(func() {
				for done.Load() < jobs {
					batch, err := cons.Fetch(claimBatch, jetstream.FetchMaxWait(200*time.Millisecond))
					if err != nil {
						b.Error(err)
						return
					}
					n := 0
					for m := range batch.Messages() {
						// Acked without waiting, as the dispatcher's batched
						// records do; the run ends when the stream is empty
						// (every ack applied).
						if err := m.Ack(); err != nil {
							b.Error(err)
							return
						}
						n++
					}
					done.Add(int64(n))
				}
			})
		}
		wg.Wait()
		for deadline := time.Now().Add(time.Minute); ; {
			info, err := s.Info(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if info.State.Msgs == 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("stream left with %d messages", info.State.Msgs)
			}
			time.Sleep(time.Millisecond)
		}
		report(b, start, enqueued)
	}
}
