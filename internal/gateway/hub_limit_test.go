package gateway

import "testing"

// TestHubReserve: a login's place counts the sessions its kicks leave and
// the other logins holding a place.
func TestHubReserve(t *testing.T) {
	cases := []struct {
		name      string
		policy    string
		existing  []string // platforms of alice's registered sessions
		pending   int      // logins of alice holding a place
		platform  string
		limit     int
		wantPlace bool
	}{
		{"no cap", PolicyMulti, []string{"ios", "ios", "ios"}, 3, "ios", 0, true},
		{"under the cap", PolicyMulti, []string{"ios"}, 0, "web", 2, true},
		{"at the cap", PolicyMulti, []string{"ios", "web"}, 0, "macos", 2, false},
		{"pending logins count", PolicyMulti, []string{"ios"}, 1, "macos", 2, false},
		{"a replaced session does not count", PolicyPlatform, []string{"ios", "web"}, 0, "ios", 2, true},
		{"single policy replaces all", PolicySingle, []string{"ios", "web"}, 0, "macos", 1, true},
		{"server sessions are never replaced", PolicySingle, []string{"server", "server"}, 0, "ios", 2, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHub()
			for _, p := range tc.existing {
				h.register(&Session{appID: "app", userID: "alice", platform: p}, PolicyMulti)
			}
			for range tc.pending {
				if !h.reserve("app", "alice", "linux", PolicyMulti, 0) {
					t.Fatal("reserve without a cap refused")
				}
			}
			if got := h.reserve("app", "alice", tc.platform, tc.policy, tc.limit); got != tc.wantPlace {
				t.Fatalf("reserve = %v, want %v", got, tc.wantPlace)
			}
			// Another user is not concerned.
			if !h.reserve("app", "bob", tc.platform, tc.policy, 1) {
				t.Fatal("bob refused")
			}
			h.unreserve("app", "bob")
		})
	}
	h := NewHub()
	h.reserve("app", "alice", "ios", PolicyMulti, 1)
	h.unreserve("app", "alice")
	if !h.reserve("app", "alice", "ios", PolicyMulti, 1) {
		t.Fatal("a given-back place is still held")
	}
	if len(h.shard(userKey{"app", "alice"}).pending) != 1 {
		t.Fatal("pending entry missing")
	}
	h.unreserve("app", "alice")
	if len(h.shard(userKey{"app", "alice"}).pending) != 0 {
		t.Fatal("pending entry left behind")
	}
}
