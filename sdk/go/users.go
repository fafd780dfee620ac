package herald

import (
	"context"
	"fmt"

	"github.com/heraldim/herald/internal/protocol"
)

// UserFullInfo is a user's profile, as the app's server imported or set
// it through the server API (empty for a user that only logged in).
type UserFullInfo struct {
	UserID    string
	Nickname  string
	AvatarURL string
	// Extra is the app-defined string of the profile.
	Extra string
}

// QueryUsersInfo returns the profiles of 1 to 100 users of the app, in the
// order asked; the users it could not return are in the second list with
// their code (CodeInvalidUserID, CodeUserNotFound).
func (c *Client) QueryUsersInfo(ctx context.Context, userIDs []string) ([]UserFullInfo, []ErrorUserInfo, error) {
	var r protocol.UserInfoReply
	if err := c.call(ctx, protocol.TypeUserInfo, protocol.UserInfoRequest{UserIDs: userIDs}, &r); err != nil {
		return nil, nil, fmt.Errorf("herald: query users info: %w", err)
	}
	users := make([]UserFullInfo, len(r.Users))
	for i, u := range r.Users {
		users[i] = UserFullInfo{UserID: u.UserID, Nickname: u.Nickname, AvatarURL: u.AvatarURL, Extra: u.Extra}
	}
	errs := make([]ErrorUserInfo, len(r.ErrorUserList))
	for i, e := range r.ErrorUserList {
		errs[i] = ErrorUserInfo{UserID: e.UserID, Code: int(e.Code), Reason: e.Message}
	}
	return users, errs, nil
}
