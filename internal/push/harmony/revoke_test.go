package harmony

import (
	"context"
	"errors"
	"testing"

	"github.com/heraldim/herald/internal/push"
)

// TestRevokeRemovesNotification: with the client ID, Revoke removes the
// notification of the collapse ID Send gave it, and no other; an
// uninstalled token is DropDevice; without a client ID the Provider does
// not revoke.
func TestRevokeRemovesNotification(t *testing.T) {
	f := setup(t, func(c *Config) {})
	if f.p.Revokes() {
		t.Fatal("Revokes without a client ID")
	}
	if _, err := f.p.Revoke(context.Background(), push.Notification{Token: f.token, CollapseID: "msg-1"}); !errors.Is(err, push.ErrInvalidNotification) {
		t.Fatalf("Revoke without a client ID: %v", err)
	}
	p, err := New(Config{ServiceAccountJSON: f.sa, BaseURL: f.emu.URL(), RootCAs: f.emu.CertPool(), Now: f.clock.Now,
		ClientID: f.emu.ClientID(project)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	f.p = p
	if !p.Revokes() {
		t.Fatal("Revokes is false with a client ID")
	}
	for _, k := range []string{"msg-1", "msg-2"} {
		if res := f.send(t, push.Notification{Kind: push.KindAlert, Title: "Alice", Content: k, CollapseID: k}); res.Outcome != push.Delivered {
			t.Fatalf("send %s: %+v", k, res)
		}
	}
	res, err := p.Revoke(context.Background(), push.Notification{Token: f.token, CollapseID: "msg-2"})
	if err != nil || res.Outcome != push.Delivered || res.VendorID == "" {
		t.Fatalf("Revoke: %+v %v", res, err)
	}
	if tray := f.emu.Tray(f.token); len(tray) != 1 || tray[0].Body != "msg-1" {
		t.Fatalf("tray after Revoke %+v", tray)
	}
	if _, err := p.Revoke(context.Background(), push.Notification{Token: f.token}); !errors.Is(err, push.ErrInvalidNotification) {
		t.Fatalf("Revoke without a collapse ID: %v", err)
	}
	f.emu.Uninstall(f.token)
	if res, err := p.Revoke(context.Background(), push.Notification{Token: f.token, CollapseID: "msg-1"}); err != nil || res.Outcome != push.DropDevice {
		t.Fatalf("Revoke to an uninstalled app: %+v %v", res, err)
	}
}
