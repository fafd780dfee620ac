package im

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// User is a user of an app as the server API shows it: its profile, set by
// the app's backend (import, update), and when it was created (by import
// or its first login).
type User struct {
	AppID, UserID string
	// Nickname, AvatarURL and Extra (an app-defined string) are the
	// profile; empty for a user created by its login.
	Nickname, AvatarURL, Extra string
	CreatedAt, UpdatedAt       time.Time
	// TokensValidAfter refuses login tokens issued before it; zero: none.
	TokensValidAfter time.Time
	// Devices is the number of push devices bound to the user.
	Devices int
}

// UserProfile is one user of an import: created, or its profile replaced.
type UserProfile struct {
	UserID, Nickname, AvatarURL, Extra string
}

// UserPatch changes the profile fields that are not nil.
type UserPatch struct {
	Nickname, AvatarURL, Extra *string
}

// maxRevocations bounds the cache of per-user revocation cutoffs (emptied
// past it, as recorded is).
const maxRevocations = 1 << 20

// revocations caches each user's tokens_valid_after (Unix ms, 0: none) so
// that a login reads it from the store once per user and process. The
// revoke and delete calls of the server API write the store, then drop the
// user's entry (ForgetUser); gen counts those drops, so that a load that
// read the store before one does not put the old value back. The zero
// value is ready.
type revocations struct {
	mu    sync.Mutex
	gen   uint64
	after map[cursorKey]int64
}

// checkRevoked refuses a token of the user issued before its cutoff
// (token_revoked). A token's iat has whole seconds: one minted in the
// millisecond of a revocation's cutoff, or after it in the same second,
// is refused too.
func (s *Service) checkRevoked(ctx context.Context, appID, userID string, issuedAt time.Time) error {
	after, err := s.tokensValidAfter(ctx, appID, userID)
	if err != nil {
		return err
	}
	if after > 0 && issuedAt.UnixMilli() < after {
		return protocol.Errorf(protocol.CodeTokenRevoked, "")
	}
	return nil
}

// CheckRevoked is the revocation check of Authenticate alone, for a
// session that registered after authenticating: a revocation that ran in
// between did not find it among the live sessions. Normally a cache hit.
func (s *Service) CheckRevoked(ctx context.Context, appID, userID string, issuedAt time.Time) error {
	return s.checkRevoked(ctx, appID, userID, issuedAt)
}

func (s *Service) tokensValidAfter(ctx context.Context, appID, userID string) (int64, error) {
	k := cursorKey{app: appID, user: userID}
	r := &s.revoked
	r.mu.Lock()
	after, ok := r.after[k]
	gen := r.gen
	r.mu.Unlock()
	if ok {
		return after, nil
	}
	t, err := s.store.TokensValidAfter(ctx, appID, userID)
	if err != nil {
		return 0, fmt.Errorf("im: tokens valid after: %w", err)
	}
	if !t.IsZero() {
		after = t.UnixMilli()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen == gen {
		if r.after == nil || len(r.after) >= maxRevocations {
			r.after = map[cursorKey]int64{}
		}
		r.after[k] = after
	}
	return after, nil
}

// ForgetUser drops what the service caches about a user, after the
// server API changed it in the store: its revocation cutoff (read again
// at its next login) and that it was recorded (a deleted user's next login
// records it again).
func (s *Service) ForgetUser(appID, userID string) {
	k := cursorKey{app: appID, user: userID}
	s.revoked.mu.Lock()
	s.revoked.gen++
	delete(s.revoked.after, k)
	s.revoked.mu.Unlock()
	s.recordedMu.Lock()
	delete(s.recorded, k)
	s.recordedMu.Unlock()
	s.rules.forget(appID, userID) // a deleted user's rule went with it
}

// UserInfoQuery names the users whose profiles a client asks for.
type UserInfoQuery struct {
	UserIDs []string
}

// UserInfoResult has the users found, in the order asked, and the IDs
// that are invalid or name no user of the app.
type UserInfoResult struct {
	Users      []User
	ErrorUsers []UserError
}

// UserInfo answers a client's userInfo request: the profiles of users of
// its app, in the order asked; invalid and unknown IDs in ErrorUsers.
func (s *Service) UserInfo(ctx context.Context, appID, _ string, req UserInfoQuery) (UserInfoResult, error) {
	if len(req.UserIDs) == 0 || len(req.UserIDs) > protocol.MaxUserInfoIDs {
		return UserInfoResult{}, protocol.Errorf(protocol.CodeInvalidArgument, "userIDs must list 1 to %d user IDs", protocol.MaxUserInfoIDs)
	}
	var reply UserInfoResult
	refuse := func(id string, e *protocol.Error) {
		reply.ErrorUsers = append(reply.ErrorUsers, UserError{UserID: id, Code: e.Code, Message: e.Message})
	}
	valid := make([]string, 0, len(req.UserIDs))
	seen := make(map[string]bool, len(req.UserIDs))
	for _, id := range req.UserIDs {
		switch {
		case !protocol.ValidUserID(id):
			refuse(id, protocol.Errorf(protocol.CodeInvalidUserID, ""))
		case !seen[id]:
			seen[id] = true
			valid = append(valid, id)
		}
	}
	us, err := s.store.Users(ctx, appID, valid)
	if err != nil {
		return UserInfoResult{}, fmt.Errorf("im: user info: %w", err)
	}
	found := make(map[string]bool, len(us))
	for _, u := range us {
		found[u.UserID] = true
		reply.Users = append(reply.Users, u)
	}
	for _, id := range valid {
		if !found[id] {
			refuse(id, protocol.Errorf(protocol.CodeUserNotFound, ""))
		}
	}
	return reply, nil
}
