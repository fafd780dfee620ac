package webhook

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// listStore is a Store whose Webhooks lists cfgs.
type listStore struct {
	Store
	cfgs []Config
}

func (s *listStore) Webhooks(context.Context) ([]Config, error) { return s.cfgs, nil }

// TestReload: Reload takes the app's stored configuration (another node
// changed it), drops the cached one when none is stored, and leaves the
// other apps' alone.
func TestReload(t *testing.T) {
	st := &listStore{}
	s, err := New(st, Options{RetryBase: time.Second, RetryMax: time.Minute, MaxAttempts: 3, Timeout: time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.client.CloseIdleConnections)
	s.cfgs["other"] = Config{AppID: "other", Enabled: true, URL: "https://y.example/h", Events: []string{EventUserLogin}}
	st.cfgs = []Config{{AppID: "app", Enabled: true, URL: "https://x.example/h", Events: []string{EventUserLogin}},
		{AppID: "other", Enabled: true}}
	if err := s.Reload(context.Background(), "app"); err != nil {
		t.Fatal(err)
	}
	if !s.Wants("app", EventUserLogin) {
		t.Fatal("the stored configuration not taken")
	}
	if !s.Wants("other", EventUserLogin) {
		t.Fatal("another app's cached configuration changed")
	}
	st.cfgs = nil
	if err := s.Reload(context.Background(), "app"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.config("app"); ok {
		t.Fatal("a deleted configuration still cached")
	}
}
