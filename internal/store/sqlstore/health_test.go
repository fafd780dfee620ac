package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
)

// TestWriteHealthFullDatabase: with the database unable to grow
// (max_page_count at its size, as a full disk), a commit that needs space
// fails with SQLITE_FULL and WriteHealth reports it; the probe fails too
// while the limit holds, even with free pages in the file, and succeeds,
// clearing the failure, once it is lifted. The probe leaves the database as
// it was.
func TestWriteHealthFullDatabase(t *testing.T) {
	s := openTest(t, Config{Path: filepath.Join(t.TempDir(), "herald.db")})
	defer s.Close()
	ctx := t.Context()
	if err := s.CreateApp(ctx, im.App{ID: "a", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	id := int64(0)
	send := func(text string) error {
		id++
		_, err := s.AppendMessages(ctx, []*im.Message{{AppID: "a", ID: id, ConvID: im.PeerConvID("x", "y"),
			Sender: "x", Recipient: "y", Text: text, CreatedAt: time.Now()}})
		return err
	}
	if err := send("hello"); err != nil {
		t.Fatal(err)
	}
	if f, failing := s.WriteHealth(); failing {
		t.Fatalf("WriteHealth after a good commit = %+v, want not failing", f)
	}
	// Free pages in the file: the probe must ask for more than those.
	if _, err := s.w.ExecContext(ctx, "CREATE TABLE scratch (b BLOB)"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, "INSERT INTO scratch VALUES (zeroblob(40000))"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, "DROP TABLE scratch"); err != nil {
		t.Fatal(err)
	}
	pages, err := s.PageCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.SetMaxPageCount(ctx, pages); err != nil || n != pages {
		t.Fatalf("SetMaxPageCount(%d) = %d, %v", pages, n, err)
	}

	err = send(strings.Repeat("x", 64<<10)) // more than the free pages hold
	if err == nil {
		t.Fatal("a 64 KB message committed into a database that cannot grow")
	}
	f, failing := s.WriteHealth()
	if !failing || !strings.Contains(f.Reason(), "full") || f.At.IsZero() {
		t.Fatalf("WriteHealth after SQLITE_FULL = %+v (reason %q), %v; want failing, full", f, f.Reason(), failing)
	}
	since := f.Since
	if err := s.ProbeWrite(ctx); err == nil {
		t.Fatal("the probe succeeded on a database that cannot grow")
	}
	if f, failing = s.WriteHealth(); !failing || !f.Since.Equal(since) {
		t.Fatalf("WriteHealth after a failed probe = %+v, %v; want still failing since %v", f, failing, since)
	}

	if _, err := s.SetMaxPageCount(ctx, 1<<30); err != nil {
		t.Fatal(err)
	}
	if err := s.ProbeWrite(ctx); err != nil {
		t.Fatalf("probe with room again: %v", err)
	}
	if f, failing := s.WriteHealth(); failing {
		t.Fatalf("WriteHealth after a good probe = %+v, want not failing", f)
	}
	if after, err := s.PageCount(ctx); err != nil || after != pages {
		t.Errorf("page count after the probes = %d, %v; want %d as before", after, err, pages)
	}
	var tables int
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE name = 'herald_write_probe'").Scan(&tables); err != nil || tables != 0 {
		t.Errorf("probe table left behind: %d, %v", tables, err)
	}
	if err := send("back"); err != nil {
		t.Errorf("send after recovery: %v", err)
	}
}

// TestWriteHealthIgnoresRefusals: a conflict or a cancelled commit says
// nothing of the store's health.
func TestWriteHealthIgnoresRefusals(t *testing.T) {
	s := openTest(t, Config{Path: filepath.Join(t.TempDir(), "herald.db")})
	defer s.Close()
	// Unknown app: im.ErrNotFound.
	_, err := s.AppendMessages(t.Context(), []*im.Message{{AppID: "nope", ID: 1, ConvID: im.PeerConvID("x", "y"),
		Sender: "x", Recipient: "y", CreatedAt: time.Now()}})
	if err == nil {
		t.Fatal("append for an unknown app succeeded")
	}
	if f, failing := s.WriteHealth(); failing {
		t.Fatalf("WriteHealth after a refused append = %+v, want not failing", f)
	}
}

// TestRunWriteProbesRecovers: RunWriteProbes clears a failure by itself
// once writes succeed again, without any other write.
func TestRunWriteProbesRecovers(t *testing.T) {
	s := openTest(t, Config{Path: filepath.Join(t.TempDir(), "herald.db")})
	defer s.Close()
	s.health.note(sql.ErrConnDone, time.Now()) // a failure recorded earlier
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.RunWriteProbes(ctx, time.Millisecond) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunWriteProbes: %v", err)
		}
	}()
	for {
		changed := s.health.watch()
		if _, failing := s.WriteHealth(); !failing {
			return
		}
		select {
		case <-changed:
		case <-time.After(10 * time.Second):
			t.Fatal("the probes did not clear the failure")
		}
	}
}

// TestCheckpointsSurviveErrors: a checkpoint that fails (here its
// connection cannot open the file) is counted and retried with a growing
// wait; once the cause is gone the next one succeeds, and only the context
// stops the loop.
func TestCheckpointsSurviveErrors(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, Config{Path: filepath.Join(dir, "herald.db")})
	defer s.Close()
	good := s.ck
	bad, err := sql.Open("sqlite", dsn(dir)) // a directory: SQLITE_CANTOPEN
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	s.ck, s.ckInterval = bad, time.Millisecond
	const failures = 3
	ctx, cancel := context.WithCancel(t.Context())
	outcomes := make(chan error)
	seen := 0
	// Runs in RunCheckpoints' goroutine: swapping the connection there
	// races with nothing.
	s.ckObserve = func(err error) {
		if err != nil {
			if seen++; seen == failures {
				s.ck = good
			}
		}
		select {
		case outcomes <- err:
		case <-ctx.Done():
		}
	}
	done := make(chan error, 1)
	go func() { done <- s.RunCheckpoints(ctx) }()
	var got []error
	for len(got) == 0 || got[len(got)-1] != nil {
		select {
		case err := <-outcomes:
			got = append(got, err)
		case err := <-done:
			t.Fatalf("RunCheckpoints returned %v after %v", err, got)
		case <-time.After(10 * time.Second):
			t.Fatalf("no checkpoint succeeded after %v", got)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("RunCheckpoints after cancel: %v", err)
	}
	if len(got) != failures+1 {
		t.Errorf("outcomes %v, want %d failures then a success", got, failures)
	}
	if n := s.CheckpointFailures(); n != failures {
		t.Errorf("CheckpointFailures = %d, want %d", n, failures)
	}
	s.ck = good
}
