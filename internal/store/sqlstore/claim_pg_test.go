package sqlstore

import (
	"database/sql"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/heraldim/herald/internal/store/pgtest"
)

// TestClaimQueryPostgres runs ClaimJobs' statement with SKIP LOCKED
// (claimQuery(true)) on PostgreSQL: three pools claiming at once from one
// queue get disjoint jobs, every job once. The table has push_jobs' queue
// columns only, in a fresh database.
func TestClaimQueryPostgres(t *testing.T) {
	dbURL := pgtest.Fresh(t) // skips when HERALD_TEST_POSTGRES is unset
	const jobs, nodes = 600, 3
	pools := make([]*sql.DB, nodes)
	for i := range pools {
		var err error
		if pools[i], err = sql.Open("pgx", dbURL); err != nil {
			t.Fatal(err)
		}
		defer pools[i].Close()
	}
	if _, err := pools[0].ExecContext(t.Context(), `CREATE TABLE push_jobs (
	id BIGSERIAL PRIMARY KEY, vendor TEXT NOT NULL, status TEXT NOT NULL, not_before BIGINT NOT NULL,
	lease_owner TEXT NOT NULL DEFAULT '', lease_until BIGINT NOT NULL DEFAULT 0);
CREATE INDEX push_jobs_claim ON push_jobs (vendor, not_before, id, lease_until) WHERE status = 'pending';
INSERT INTO push_jobs (vendor, status, not_before) SELECT 'fcm', 'pending', 1 FROM generate_series(1, 600)`); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	q := claimQuery(true)
	claimed := make([][]int64, nodes)
	var wg sync.WaitGroup
	for i, db := range pools {
		wg.Go(func() {
			owner := "node-" + string(rune('a'+i))
			for {
				rows, err := db.QueryContext(t.Context(), q, "fcm", now, 16, owner, now+60000)
				if err != nil {
					t.Error(err)
					return
				}
				n := 0
				for rows.Next() {
					var id int64
					if err := rows.Scan(&id); err != nil {
						t.Error(err)
					}
					claimed[i] = append(claimed[i], id)
					n++
				}
				rows.Close()
				if n == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i, ids := range claimed {
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("job %d claimed twice (node %d)", id, i)
			}
			seen[id] = true
		}
	}
	if len(seen) != jobs {
		t.Fatalf("%d of %d jobs claimed", len(seen), jobs)
	}
	var left int
	if err := pools[0].QueryRowContext(t.Context(), `SELECT count(*) FROM push_jobs WHERE lease_owner = ''`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d jobs unleased after the claims (%v)", left, err)
	}
	t.Logf("claims per node: %d, %d, %d", len(claimed[0]), len(claimed[1]), len(claimed[2]))
}
