package sqlstore

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

func TestCredentials(t *testing.T) {
	s := pushStore(t)
	ctx := t.Context()
	both := []push.Environment{push.Development, push.Production}
	put := func(app string, v push.Vendor, envs []push.Environment, cfg string) {
		t.Helper()
		if err := s.PutCredential(ctx, push.Credential{AppID: app, Vendor: v, Environments: envs, Config: []byte(cfg)}); err != nil {
			t.Fatal(err)
		}
	}
	put("a1", push.VendorFCM, both, `{"f":1}`)
	put("a1", push.VendorAPNs, both, `{"a":1}`)
	put("a2", push.VendorAPNs, []push.Environment{push.Production}, `{"a":2}`)
	first, err := s.Credentials(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	// Replacing keeps created_at and moves updated_at.
	put("a1", push.VendorAPNs, []push.Environment{push.Development}, `{"a":3}`)

	got, err := s.Credentials(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Vendor != push.VendorAPNs || got[1].Vendor != push.VendorFCM ||
		string(got[0].Config) != `{"a":3}` || !slices.Equal(got[0].Environments, []push.Environment{push.Development}) ||
		!slices.Equal(got[1].Environments, both) || got[0].AppID != "a1" {
		t.Fatalf("a1's credentials: %+v", got)
	}
	if !got[0].CreatedAt.Equal(first[0].CreatedAt) || !got[0].UpdatedAt.After(first[0].UpdatedAt) {
		t.Fatalf("times: before %+v, after %+v", first[0], got[0])
	}
	all, err := s.Credentials(ctx, "")
	if err != nil || len(all) != 3 || all[2].AppID != "a2" || string(all[2].Config) != `{"a":2}` {
		t.Fatalf("every app's: %+v, %v", all, err)
	}

	if err := s.DeleteCredential(ctx, "a2", push.VendorFCM); !errors.Is(err, push.ErrNotFound) {
		t.Fatalf("deleting what a2 lacks: %v", err)
	}
	if err := s.DeleteCredential(ctx, "a2", push.VendorAPNs); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Credentials(ctx, "a2"); len(got) != 0 {
		t.Fatalf("a2 kept %+v", got)
	}
	if got, _ := s.Credentials(ctx, "a1"); len(got) != 2 {
		t.Fatalf("deleting a2's touched a1's: %+v", got)
	}
	err = s.PutCredential(ctx, push.Credential{AppID: "nope", Vendor: push.VendorAPNs, Config: []byte(`{}`)})
	if !errors.Is(err, im.ErrNotFound) {
		t.Fatalf("credential of an unknown app: %v", err)
	}
}
