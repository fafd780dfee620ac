package sqlstore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
)

// TestBackupWhileWriting: a backup taken while batches are committed
// holds every batch committed before it started, whole batches only, and
// its secrets sealed; it is 0600 and opens as a store with the same keys.
func TestBackupWhileWriting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "herald.db")
	r := ring(t, testKey(t, "k1"))
	s, err := openSealed(t, path, r)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeSecrets(t, s)
	ctx := t.Context()

	const batch = 10
	var mu sync.Mutex
	committed := 0 // batches committed so far
	stop := make(chan struct{})
	started := make(chan struct{}) // closed once 20 batches are in
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if i >= 2000 { // bounded, in case the backup never returns
				done <- nil
				return
			}
			msgs := make([]*im.Message, batch)
			for j := range msgs {
				msgs[j] = &im.Message{AppID: "a1", ID: int64(i*batch + j + 1), ConvID: "p:alice:bob", ConvType: protocol.ConversationPeer,
					Sender: "alice", Recipient: "bob", Type: protocol.MessageText, Text: "m", LocalID: "l" + time.Now().String(),
					CreatedAt: time.Now()}
			}
			if _, err := s.AppendMessages(ctx, msgs); err != nil {
				done <- err
				return
			}
			mu.Lock()
			committed++
			if committed == 20 {
				close(started)
			}
			mu.Unlock()
		}
	}()
	// Some batches in first, so that the backup copies a file being
	// written.
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("writer stopped early: %v", err)
	}
	mu.Lock()
	before := committed
	mu.Unlock()
	out := filepath.Join(t.TempDir(), "backup.db")
	if err := Backup(ctx, path, out); err != nil {
		t.Fatal(err)
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %o, want 600", fi.Mode().Perm())
	}
	checkNoPlaintext(t, out)
	b, err := openSealed(t, out, r)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	checkSecrets(t, b)
	conv, err := b.Conversation(ctx, "a1", "alice", "p:alice:bob")
	if err != nil {
		t.Fatal(err)
	}
	if conv.LastSeq < int64(before*batch) || conv.LastSeq%batch != 0 {
		t.Fatalf("backup holds %d messages; %d batches of %d were committed before it began", conv.LastSeq, before, batch)
	}
	if err := Backup(ctx, path, out); !errors.Is(err, ErrBackupExists) {
		t.Fatalf("backup over an existing file: %v", err)
	}
	if err := Backup(ctx, filepath.Join(dir, "none.db"), filepath.Join(dir, "b2.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("backup of a missing database: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("backup created the missing database")
	}
}
