package sqlstore

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestConsoleQueryPlans: the console's overview, polled every 2 s, reads
// only the app's own rows through an index: no step scans a table (a
// temporary B-tree groups the few rows found; that is all it sorts). The
// plans are logged: the cost of each query is the app's open jobs (queue)
// and the app's jobs changed in the last hour with their attempts
// (outcomes).
func TestConsoleQueryPlans(t *testing.T) {
	s := openTest(t, Config{Path: filepath.Join(t.TempDir(), "herald.db")})
	defer s.Close()
	tests := []struct {
		name, query, index string
		args               []any
	}{
		{"push queue", qPushQueue, "push_jobs_app_open", []any{"a"}},
		{"attempt outcomes", qPushAttemptOutcomes, "push_jobs_app_updated", []any{"a", 1, 2}},
		{"job outcomes", qPushJobOutcomes, "push_jobs_app_updated", []any{"a", 1, 2}},
		{"explain: jobs", qTraceByMessageUser, "push_jobs_message", []any{"a", 1, "u", 10}},
		{"explain: message", qExplainMessage, "INTEGER PRIMARY KEY", []any{1, "a"}},
		{"explain: group member", qGroupMember, "PRIMARY KEY", []any{"a", "g", "u"}},
		{"explain: group fanout", qGroupFanout, "(message_id=?)", []any{1, "a"}},
	}
	for _, tt := range tests {
		rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+tt.query, tt.args...)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		t.Logf("%s: %q", tt.name, plan)
		if !strings.Contains(strings.Join(plan, "\n"), tt.index) {
			t.Errorf("%s: plan %q does not use %s", tt.name, plan, tt.index)
		}
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN") {
				t.Errorf("%s: plan %q scans", tt.name, plan)
			}
		}
	}
}
