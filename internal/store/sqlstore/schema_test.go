package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/heraldim/herald/internal/store/pgtest"
)

// schema is a database's shape as the parity test compares it: per table,
// its columns (name, NOT NULL, primary key position) and its indexes
// (name, unique, columns), each as one sorted line.
type schema map[string][]string

// TestSchemaParity: the PostgreSQL migrations (migrations/postgres) give
// the schema the SQLite ones (migrations/sqlite) give: the same tables,
// columns, primary keys and indexes. A migration added to one directory
// and not to the other fails here.
func TestSchemaParity(t *testing.T) {
	pgURL := pgtest.Fresh(t)
	ctx := t.Context()
	lite := openTest(t, Config{Path: filepath.Join(t.TempDir(), "herald.db")})
	defer lite.Close()
	pg, err := OpenPostgres(ctx, PostgresConfig{URL: pgURL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	a, err := sqliteSchema(ctx, lite.r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := postgresSchema(ctx, pg.r)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) < 20 {
		t.Fatalf("SQLite schema has %d tables: the reader is broken", len(a))
	}
	for table, want := range a {
		got, ok := b[table]
		if !ok {
			t.Errorf("table %s: in SQLite, not in PostgreSQL", table)
			continue
		}
		if !slices.Equal(want, got) {
			t.Errorf("table %s differs:\n  sqlite:   %s\n  postgres: %s", table, strings.Join(want, "; "), strings.Join(got, "; "))
		}
	}
	for table := range b {
		if _, ok := a[table]; !ok {
			t.Errorf("table %s: in PostgreSQL, not in SQLite", table)
		}
	}
	// The migration versions too: the same numbers on both.
	va, vb := versions(ctx, t, lite.r), versions(ctx, t, pg.r)
	if last := va[len(va)-1]; last != vb[len(vb)-1] {
		t.Errorf("last migration: SQLite %d, PostgreSQL %d", last, vb[len(vb)-1])
	}
}

func versions(ctx context.Context, t *testing.T, db *sql.DB) []int64 {
	t.Helper()
	rows, err := db.QueryContext(ctx, `SELECT version_id FROM goose_db_version WHERE version_id > 0 ORDER BY version_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var vs []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		t.Fatal("no migrations applied")
	}
	return vs
}

func sqliteSchema(ctx context.Context, db *sql.DB) (schema, error) {
	out := schema{}
	rows, err := db.QueryContext(ctx, `SELECT m.name, c.name, c."notnull", c.pk FROM sqlite_master m
JOIN pragma_table_info(m.name) c WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> 'goose_db_version'`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var table, col string
		var notNull bool
		var pk int
		if err := rows.Scan(&table, &col, &notNull, &pk); err != nil {
			return nil, err
		}
		// SQLite's INTEGER PRIMARY KEY is NOT NULL whatever it says.
		out[table] = append(out[table], fmt.Sprintf("column %s notnull=%v pk=%d", col, notNull || pk > 0, pk))
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	rows, err = db.QueryContext(ctx, `SELECT m.tbl_name, m.name, il."unique", ii.seqno, ii.name FROM sqlite_master m
JOIN pragma_index_list(m.tbl_name) il ON il.name = m.name
JOIN pragma_index_info(m.name) ii WHERE m.type = 'index' AND m.sql IS NOT NULL ORDER BY m.name, ii.seqno`)
	if err != nil {
		return nil, err
	}
	if err := indexes(rows, out); err != nil {
		return nil, err
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out, nil
}

func postgresSchema(ctx context.Context, db *sql.DB) (schema, error) {
	out := schema{}
	rows, err := db.QueryContext(ctx, `SELECT c.table_name, c.column_name, c.is_nullable = 'NO',
	COALESCE((SELECT k.ordinal_position FROM information_schema.table_constraints tc
		JOIN information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name AND k.table_schema = tc.table_schema
		WHERE tc.table_schema = c.table_schema AND tc.table_name = c.table_name AND tc.constraint_type = 'PRIMARY KEY'
			AND k.column_name = c.column_name), 0)
FROM information_schema.columns c JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.table_name <> 'goose_db_version'`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var table, col string
		var notNull bool
		var pk int
		if err := rows.Scan(&table, &col, &notNull, &pk); err != nil {
			return nil, err
		}
		out[table] = append(out[table], fmt.Sprintf("column %s notnull=%v pk=%d", col, notNull, pk))
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	rows, err = db.QueryContext(ctx, `SELECT t.relname, i.relname, x.indisunique, k.n - 1, a.attname
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace ns ON ns.oid = t.relnamespace
CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
WHERE ns.nspname = current_schema() AND NOT x.indisprimary AND t.relname <> 'goose_db_version'
ORDER BY i.relname, k.n`)
	if err != nil {
		return nil, err
	}
	if err := indexes(rows, out); err != nil {
		return nil, err
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out, nil
}

// indexes adds the rows (table, index, unique, position, column) to out,
// one line per index.
func indexes(rows *sql.Rows, out schema) error {
	defer rows.Close()
	type key struct{ table, index string }
	cols := map[key][]string{}
	uniq := map[key]bool{}
	var order []key
	for rows.Next() {
		var k key
		var unique bool
		var pos int
		var col string
		if err := rows.Scan(&k.table, &k.index, &unique, &pos, &col); err != nil {
			return err
		}
		if _, ok := cols[k]; !ok {
			order = append(order, k)
		}
		cols[k] = append(cols[k], col)
		uniq[k] = unique
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, k := range order {
		out[k.table] = append(out[k.table], fmt.Sprintf("index %s unique=%v (%s)", k.index, uniq[k], strings.Join(cols[k], ", ")))
	}
	return nil
}
