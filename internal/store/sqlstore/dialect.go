package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
)

// dialect holds everything that differs between the SQL databases the
// store runs on: the driver, the migrations and the few statements that
// cannot be written once for both. Every other query is shared text
// ($n placeholders, ON CONFLICT, COALESCE), so a difference lives here and
// nowhere else.
type dialect struct {
	// name prefixes errors and logs ("sqlite", "postgres").
	name string
	// goose is the migrations' dialect; migrations the directory under
	// migrations/ holding them.
	goose      goose.Dialect
	migrations string
	// shared says that other processes may write the same database at
	// the same time (PostgreSQL): no in-memory seq cache, seqs allocated
	// under per-conversation locks (seqalloc.go), serialization failures
	// retried.
	shared bool
	// appTables lists the tables with an app_id column other than apps,
	// by name.
	appTables string
	// deferForeignKeys, run first in DeleteApp's transaction, lets the
	// rows go in any order; empty where the order used (children, then
	// apps) needs no deferral.
	deferForeignKeys string
	// contentSet is the SQL expression for a push config column given as
	// %[1]s (a JSON document) with its "content" member set to the string
	// parameter given as %[2]s.
	contentSet string
	// removeSet is the SQL expression for a push config column given as
	// %[1]s with its "remove" member set to whether it has a title or a
	// content (push.DecodeRemove: the push was a notification).
	removeSet string
	// secureDeleteOn and Off, on a connection, make deleted and
	// overwritten values be zeroed in the database file while secrets are
	// sealed; empty where the database offers no such setting.
	secureDeleteOn, secureDeleteOff string
	// bodyText is the argument for messages.text, which may hold any
	// string, NUL characters included: TEXT on SQLite, BYTEA on
	// PostgreSQL (whose TEXT refuses NUL).
	bodyText func(string) any
	// blob is the binary column type's name in a CAST (push configs).
	blob string
	// nowMillis is the database's clock in Unix milliseconds (node
	// leases: the nodes' own clocks may disagree).
	nowMillis string
}

// sqliteDialect is the embedded database's dialect.
var sqliteDialect = dialect{
	name:       "sqlite",
	goose:      goose.DialectSQLite3,
	migrations: "migrations/sqlite",
	appTables: `SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) c
WHERE m.type = 'table' AND c.name = 'app_id' AND m.name <> 'apps' ORDER BY m.name`,
	deferForeignKeys: `PRAGMA defer_foreign_keys = ON`,
	contentSet:       `CAST(json_set(CAST(%[1]s AS TEXT), '$.content', %[2]s) AS BLOB)`,
	removeSet: `CAST(json_set(CAST(%[1]s AS TEXT), '$.remove', json(CASE WHEN coalesce(json_extract(CAST(%[1]s AS TEXT), '$.title'), '') <> ''
	OR coalesce(json_extract(CAST(%[1]s AS TEXT), '$.content'), '') <> '' THEN 'true' ELSE 'false' END)) AS BLOB)`,
	secureDeleteOn:  "PRAGMA secure_delete = ON",
	secureDeleteOff: "PRAGMA secure_delete = OFF",
	bodyText:        func(v string) any { return v },
	blob:            "BLOB",
	nowMillis:       `CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`,
}

// postgresDialect is PostgreSQL's.
var postgresDialect = dialect{
	name:       "postgres",
	goose:      goose.DialectPostgres,
	migrations: "migrations/postgres",
	shared:     true,
	appTables: `SELECT c.table_name FROM information_schema.columns c
JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
	AND c.column_name = 'app_id' AND c.table_name <> 'apps' ORDER BY c.table_name`,
	// Every foreign key references apps, which DeleteApp deletes last.
	deferForeignKeys: "",
	bodyText:         func(v string) any { return []byte(v) },
	blob:             "BYTEA",
	nowMillis:        `CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)`,
	contentSet:       `convert_to(jsonb_set(convert_from(%[1]s, 'UTF8')::jsonb, '{content}', to_jsonb(CAST(%[2]s AS TEXT)))::text, 'UTF8')`,
	removeSet: `convert_to(jsonb_set(convert_from(%[1]s, 'UTF8')::jsonb, '{remove}', to_jsonb(coalesce(convert_from(%[1]s, 'UTF8')::jsonb->>'title', '') <> ''
	OR coalesce(convert_from(%[1]s, 'UTF8')::jsonb->>'content', '') <> ''))::text, 'UTF8')`,
}

// migrate applies the embedded migrations of d that the database lacks.
// opts are extra goose options (PostgreSQL's session locker).
func (d dialect) migrate(ctx context.Context, db *sql.DB, log *slog.Logger, opts ...goose.ProviderOption) error {
	fsys, err := fs.Sub(migrations, d.migrations)
	if err != nil {
		return fmt.Errorf("%s: migrations: %w", d.name, err)
	}
	opts = append([]goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true), // only our SQL files, never Go migrations registered elsewhere
		goose.WithSlog(log),
	}, opts...)
	p, err := goose.NewProvider(d.goose, db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("%s: migrations: %w", d.name, err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return mapErr(d.name+": migrate", err)
	}
	for _, r := range res {
		log.Info(d.name+" migration applied", "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// boolInt is b as the integer the schema stores flags as (1 or 0): both
// databases compare it with integers, and PostgreSQL's driver does not
// turn a Go bool into a BIGINT by itself.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
