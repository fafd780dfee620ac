package sqlstore

import (
	"path/filepath"
	"testing"
)

// TestGroupJoinModeMigration: a group that existed before the join modes
// keeps letting anyone join (mode 0) after the upgrade.
func TestGroupJoinModeMigration(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "herald.db")
	db := migratedTo(t, path, 12)
	for _, q := range []string{
		`INSERT INTO apps (id, name, secret, admin_key, created_at) VALUES ('a', 'A', 's', 'k', 1)`,
		`INSERT INTO im_groups (app_id, group_id, name, extended_data, owner_id, member_count, created_at)
		 VALUES ('a', 'old', 'Old', '', 'alice', 1, 1)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, Config{Path: path})
	defer s.Close()
	g, err := s.Group(ctx, "a", "old")
	if err != nil || g.JoinMode != 0 {
		t.Fatalf("group from before the migration: %+v, %v; want join mode 0 (any)", g, err)
	}
}
