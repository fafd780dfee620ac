package sqlstore

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestValuesSQL(t *testing.T) {
	for _, tt := range []struct {
		anon bool
		want string
	}{
		{false, "INSERT INTO t (a, b, c) VALUES ($1, $2, 0), ($3, $4, 0), ($5, $6, 0) ON CONFLICT DO NOTHING"},
		{true, "INSERT INTO t (a, b, c) VALUES (?, ?, 0), (?, ?, 0), (?, ?, 0) ON CONFLICT DO NOTHING"},
	} {
		if got := valuesSQL("INSERT INTO t (a, b, c) VALUES ", 2, ", 0", " ON CONFLICT DO NOTHING", 3, tt.anon); got != tt.want {
			t.Errorf("valuesSQL(anon %v) = %q, want %q", tt.anon, got, tt.want)
		}
	}
}

// TestMultiRowChunks: every row count, below, at and across the largest
// statement, writes each row once and in order.
func TestTypedValuesSQL(t *testing.T) {
	for _, tt := range []struct {
		anon bool
		want string
	}{
		{false, "SELECT * FROM (VALUES (CAST($1 AS BIGINT), $2), ($3, $4)) AS v"},
		{true, "SELECT * FROM (VALUES (CAST(? AS BIGINT), ?), (?, ?)) AS v"},
	} {
		if got := typedValuesSQL("SELECT * FROM (VALUES ", []string{"BIGINT", ""}, ") AS v", 2, tt.anon); got != tt.want {
			t.Errorf("typedValuesSQL(anon %v) = %q, want %q", tt.anon, got, tt.want)
		}
	}
}

func TestMultiRowChunks(t *testing.T) {
	s := openTest(t, Config{Path: filepath.Join(t.TempDir(), "herald.db")})
	defer s.Close()
	ctx := t.Context()
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE scratch (n INTEGER PRIMARY KEY, v TEXT NOT NULL); INSERT INTO scratch VALUES (-1, 'x')`); err != nil {
		t.Fatal(err)
	}
	if _, err := prepareMultiRow(ctx, s.w, 2, 6, nil); err == nil {
		t.Error("a maximum of 6 rows was accepted")
	}
	m, err := prepareMultiRow(ctx, s.w, 2, 4, func(rows int) string {
		return valuesSQL("INSERT INTO scratch (n, v) VALUES ", 2, "", " ON CONFLICT (n) DO NOTHING", rows, s.anonParams)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	if len(m.stmts) != 3 {
		t.Fatalf("%d statements prepared for up to 4 rows, want 3 (1, 2, 4)", len(m.stmts))
	}
	next := 0
	for rows := range 12 {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var args []any
		for range rows {
			args = append(args, next, "v")
			next++
		}
		args = append(args, -1, "again") // n -1 exists: not written
		n, err := m.exec(ctx, tx, args)
		if err != nil {
			t.Fatalf("%d rows: %v", rows, err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if wantN := int64(rows); n != wantN {
			t.Errorf("%d rows and a conflicting one: %d affected, want %d", rows, n, wantN)
		}
	}
	var got []int
	rows, err := s.w.QueryContext(ctx, `SELECT n FROM scratch WHERE v = 'v' ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	want := make([]int, next)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(got, want) {
		t.Errorf("rows written in order %v, want %v", got, want)
	}
	if _, err := m.exec(ctx, nil, []any{1, 2, 3}); err == nil {
		t.Error("3 parameters for rows of 2 were accepted")
	}
}
