package herald

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/testkit"
	"github.com/heraldim/herald/internal/token"
)

// adminPost makes a POST of the dev app's server API that must answer 200.
func adminPost(t *testing.T, srv *testkit.Server, path, body string) {
	t.Helper()
	req, err := http.NewRequest("POST", srv.HTTP+"/v1/apps/"+srv.App.AppID+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+srv.App.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d", path, resp.StatusCode)
	}
}

// endedWithout waits until the login ended with ev and checks that the SDK
// never tried to reconnect, and returns the final extended data.
func endedWithout(t *testing.T, r *recorder, ev ConnectionEvent) map[string]any {
	t.Helper()
	eventually(t, ev.String(), func() bool { return r.hasState(ConnectionStateDisconnected, ev) })
	s := r.stateList()
	for _, c := range s {
		if c.state == ConnectionStateReconnecting {
			t.Fatalf("the SDK reconnected: %v", s)
		}
	}
	return s[len(s)-1].ext
}

// TestE2EKickedByServer: the app's server kicks the user: the SDK reports
// kickedOut with reason 3 and close 4008, and does not reconnect.
func TestE2EKickedByServer(t *testing.T) {
	srv := testkit.Start(t, nil)
	bob, r := newE2EClient(t, srv, "b1", nil)
	e2eLogin(t, srv, bob, "bob")
	adminPost(t, srv, "/users/bob/kick", "")
	ext := endedWithout(t, r, ConnectionEventKickedOut)
	if ext["reason"] != protocol.KickByServer || ext["closeCode"] != protocol.CloseKickedByServer {
		t.Fatalf("kickedOut extended %v, want reason %d closeCode %d", ext, protocol.KickByServer, protocol.CloseKickedByServer)
	}
}

// TestE2ETokenRevoked: the app's server revokes the user's tokens: the SDK
// reports tokenExpired with close 4007 and does not reconnect; a login
// with the old token fails with CodeTokenRevoked, one with a token minted
// after the cutoff succeeds.
func TestE2ETokenRevoked(t *testing.T) {
	srv := testkit.Start(t, nil)
	bob, r := newE2EClient(t, srv, "b1", nil)
	old := srv.Token(t, "bob", time.Hour)
	if err := bob.Login(context.Background(), "bob", old); err != nil {
		t.Fatal(err)
	}
	adminPost(t, srv, "/users/bob/revoke-tokens", "{}")
	if ext := endedWithout(t, r, ConnectionEventTokenExpired); ext["closeCode"] != protocol.CloseTokenRevoked {
		t.Fatalf("tokenExpired extended %v, want closeCode %d", ext, protocol.CloseTokenRevoked)
	}
	if err := bob.Login(context.Background(), "bob", old); !errors.Is(err, &Error{Code: CodeTokenRevoked}) {
		t.Fatalf("login with the revoked token: %v", err)
	}
	fresh, err := token.Mint(srv.App.AppID, srv.App.Secret, "bob", time.Hour, time.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := bob.Login(context.Background(), "bob", fresh); err != nil {
		t.Fatalf("login with a token minted after the revocation: %v", err)
	}
}

// TestE2EQueryUsersInfo: a client reads the profiles the app's server
// imported; unknown users come back with CodeUserNotFound.
func TestE2EQueryUsersInfo(t *testing.T) {
	srv := testkit.Start(t, nil)
	adminPost(t, srv, "/users/import", `{"users":[{"userID":"alice","nickname":"Alice","avatarURL":"https://example.com/a.png","extra":"x"}]}`)
	bob, _ := newE2EClient(t, srv, "b1", nil)
	e2eLogin(t, srv, bob, "bob")
	users, errs, err := bob.QueryUsersInfo(context.Background(), []string{"alice", "zed"})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0] != (UserFullInfo{UserID: "alice", Nickname: "Alice", AvatarURL: "https://example.com/a.png", Extra: "x"}) {
		t.Fatalf("users %+v", users)
	}
	if len(errs) != 1 || errs[0].UserID != "zed" || errs[0].Code != CodeUserNotFound {
		t.Fatalf("errors %+v", errs)
	}
	if _, _, err := bob.QueryUsersInfo(context.Background(), nil); !errors.Is(err, &Error{Code: CodeInvalidArgument}) {
		t.Fatalf("no user IDs: %v", err)
	}
}
