package admin_test

import (
	"testing"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
)

// TestBadgeNeedsHuaweiBadgeClass: while the app's Huawei credential has no
// badgeClass, a badge resource is refused (40015) and not stored; while a
// badge resource exists, a Huawei credential without badgeClass is
// refused (40013) and the stored one stays. A badgeClass that is no full
// class name is refused (40003).
func TestBadgeNeedsHuaweiBadgeClass(t *testing.T) {
	s := testkit.Start(t, nil)
	key, appID := s.App.AdminKey, s.App.AppID
	credURL, resURL := appURL(s, appID, "/push/credentials/huawei"), appURL(s, appID, "/push/resources/msg")
	bare := map[string]any{"appID": "10086", "clientSecret": "hw-secret", "baseURL": "https://127.0.0.1:1"}
	withClass := map[string]any{"appID": "10086", "clientSecret": "hw-secret", "baseURL": "https://127.0.0.1:1",
		"badgeClass": "com.example.chat.MainActivity"}

	// No Huawei credential: nothing to check against.
	if st, b := api(t, "PUT", appURL(s, appID, "/push/resources/early"), key, `{"badge":true}`); st != 200 {
		t.Fatalf("badge resource without a Huawei credential: %d %v", st, b)
	}
	st, b := api(t, "PUT", credURL, key, bare)
	wantError(t, st, b, protocol.CodeInvalidCredential)
	if st, _ := api(t, "DELETE", appURL(s, appID, "/push/resources/early"), key, nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}

	for _, bad := range []string{"MainActivity", "com..Main", "com.example.1Main", "com.example.Main Activity"} {
		c := map[string]any{"appID": "10086", "clientSecret": "hw-secret", "badgeClass": bad}
		st, b := api(t, "PUT", credURL, key, c)
		wantError(t, st, b, protocol.CodeInvalidArgument)
	}
	if st, b := api(t, "PUT", credURL, key, bare); st != 200 {
		t.Fatalf("bare credential: %d %v", st, b)
	}
	st, b = api(t, "PUT", resURL, key, `{"badge":true,"huawei":{"channelID":"im"}}`)
	wantError(t, st, b, protocol.CodeInvalidResource)
	st, b = api(t, "GET", resURL, key, nil)
	wantError(t, st, b, protocol.CodeNotFound)
	// A resource without a badge is fine.
	if st, b := api(t, "PUT", resURL, key, `{"huawei":{"channelID":"im"}}`); st != 200 {
		t.Fatalf("resource without badge: %d %v", st, b)
	}

	if st, b := api(t, "PUT", credURL, key, withClass); st != 200 || b["badgeClass"] != "com.example.chat.MainActivity" {
		t.Fatalf("credential with badgeClass: %d %v", st, b)
	}
	if st, b := api(t, "PUT", resURL, key, `{"badge":true,"huawei":{"channelID":"im"}}`); st != 200 || b["badge"] != true {
		t.Fatalf("badge resource: %d %v", st, b)
	}
	st, b = api(t, "PUT", credURL, key, bare)
	wantError(t, st, b, protocol.CodeInvalidCredential)
	_, list := api(t, "GET", appURL(s, appID, "/push/credentials"), key, nil)
	creds, _ := list["credentials"].([]any)
	if len(creds) != 1 || creds[0].(map[string]any)["badgeClass"] != "com.example.chat.MainActivity" {
		t.Fatalf("the refused credential changed the stored one: %v", list)
	}
}

// TestResourceViewShowsEveryVendor: a resource's Huawei, Xiaomi, OPPO and
// vivo options are shown as stored, by GET one and GET all.
func TestResourceViewShowsEveryVendor(t *testing.T) {
	s := testkit.Start(t, nil)
	key, appID := s.App.AdminKey, s.App.AppID
	body := `{"apns":{"sound":"a.caf"},"fcm":{"channelID":"f"},"huawei":{"channelID":"h","kind":"data"},` +
		`"xiaomi":{"channelID":"x"},"oppo":{"channelID":"o"},"vivo":{"kind":"notification"}}`
	if st, b := api(t, "PUT", appURL(s, appID, "/push/resources/all"), key, body); st != 200 {
		t.Fatalf("put: %d %v", st, b)
	}
	check := func(what string, r map[string]any) {
		t.Helper()
		opt := func(v, k string) any {
			m, _ := r[v].(map[string]any)
			return m[k]
		}
		if opt("huawei", "channelID") != "h" || opt("huawei", "kind") != "data" || opt("xiaomi", "channelID") != "x" ||
			opt("oppo", "channelID") != "o" || opt("vivo", "kind") != "notification" || opt("fcm", "channelID") != "f" || opt("apns", "sound") != "a.caf" {
			t.Fatalf("%s shows %v", what, r)
		}
	}
	_, one := api(t, "GET", appURL(s, appID, "/push/resources/all"), key, nil)
	check("GET one", one)
	_, all := api(t, "GET", appURL(s, appID, "/push/resources"), key, nil)
	list, _ := all["resources"].([]any)
	if len(list) != 1 {
		t.Fatalf("GET all: %v", all)
	}
	check("GET all", list[0].(map[string]any))
}
