package protocol

// TypeUserInfo asks for users' profiles (the nickname, avatar URL and
// extra an app's server imported or set).
const TypeUserInfo = "userInfo"

var userTypes = []string{TypeUserInfo}

// MaxUserInfoIDs bounds the user IDs of one userInfo request.
const MaxUserInfoIDs = 100

// UserInfoRequest names 1 to MaxUserInfoIDs users of the app.
type UserInfoRequest struct {
	UserIDs []string `json:"userIDs"`
}

// UserInfo is one user's profile as clients see it.
type UserInfo struct {
	UserID    string `json:"userID"`
	Nickname  string `json:"nickname"`
	AvatarURL string `json:"avatarURL"`
	Extra     string `json:"extra"`
}

// UserErrorInfo names a user of a request that could not be served, and
// why.
type UserErrorInfo struct {
	UserID  string `json:"userID"`
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// UserInfoReply has the users found, in the order asked; the others are in
// ErrorUserList (invalid_user_id, user_not_found).
type UserInfoReply struct {
	Users         []UserInfo      `json:"users"`
	ErrorUserList []UserErrorInfo `json:"errorUserList"`
}
