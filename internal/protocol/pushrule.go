package protocol

import "slices"

// The user offline push rule, under ZIM's names: updateUserOfflinePushRule
// takes a ZIMUserOfflinePushRule {onlinePlatforms,
// notToReceiveOfflinePushPlatforms}; every session of the user then gets
// userRuleUpdated {userRule: {offlinePushRule}}; querySelfUserInfo returns
// the rule as ZIM's ZIMSelfUserInfo.userRule does. (ZEGOCLOUD "Set custom
// push rules", zegocloud.com/docs/zim-web/offline-push-notifications/set-custom-push-rules;
// pub.dev zego_zim ZIMUserRule, ZIMPlatformType.)
const (
	TypeUpdateUserOfflinePushRule = "updateUserOfflinePushRule"
	TypeQuerySelfUserInfo         = "querySelfUserInfo"
	// EventUserRuleUpdated carries a UserRuleUpdated.
	EventUserRuleUpdated = "userRuleUpdated"
)

var pushRuleTypes = []string{TypeUpdateUserOfflinePushRule, TypeQuerySelfUserInfo}

// ZIMPlatformType numbers (ZIM's documentation example names win 1,
// iPhoneOS 2, android 3, macOS 4, linux 5, iPadOS 9; the enum's order
// gives web 6 and miniProgram 7).
const (
	PlatformWin         = 1
	PlatformIPhoneOS    = 2
	PlatformAndroid     = 3
	PlatformMacOS       = 4
	PlatformLinux       = 5
	PlatformWeb         = 6
	PlatformMiniProgram = 7
	PlatformIPadOS      = 9
)

// pushPlatforms maps login platforms to ZIMPlatformType. harmonyos and
// server have no ZIM number: no rule names them, so a rule never silences
// such a device nor counts such a session as online on a named platform.
var pushPlatforms = map[string]int{
	"windows": PlatformWin, "ios": PlatformIPhoneOS, "android": PlatformAndroid, "macos": PlatformMacOS,
	"linux": PlatformLinux, "web": PlatformWeb, "ipados": PlatformIPadOS,
}

// PushPlatform returns the ZIMPlatformType number of a login platform.
func PushPlatform(platform string) (int, bool) {
	p, ok := pushPlatforms[platform]
	return p, ok
}

// MaxPushRulePlatforms bounds each list of a push rule.
const MaxPushRulePlatforms = 16

// OfflinePushRule is ZIM's ZIMUserOfflinePushRule: while the user is
// online on one of OnlinePlatforms, its devices on one of
// NotToReceiveOfflinePushPlatforms get no offline push.
type OfflinePushRule struct {
	OnlinePlatforms                  []int `json:"onlinePlatforms"`
	NotToReceiveOfflinePushPlatforms []int `json:"notToReceiveOfflinePushPlatforms"`
}

// UpdateUserOfflinePushRuleRequest sets the user's rule.
type UpdateUserOfflinePushRuleRequest struct {
	OfflinePushRule OfflinePushRule `json:"offlinePushRule"`
}

// UpdateUserOfflinePushRuleReply is ZIM's
// ZIMUserOfflinePushRuleUpdatedResult: the rule as stored.
type UpdateUserOfflinePushRuleReply struct {
	OfflinePushRule OfflinePushRule `json:"offlinePushRule"`
}

// UserRule is ZIM's ZIMUserRule.
type UserRule struct {
	OfflinePushRule OfflinePushRule `json:"offlinePushRule"`
}

// UserRuleUpdated is the userRuleUpdated event.
type UserRuleUpdated struct {
	UserRule UserRule `json:"userRule"`
}

// SelfUserInfo answers querySelfUserInfo (ZIM's ZIMSelfUserInfo: the
// user's rule and its profile).
type SelfUserInfo struct {
	UserRule UserRule `json:"userRule"`
	UserInfo UserInfo `json:"userFullInfo"`
}

// ValidatePushRule checks a rule and returns its lists sorted and without
// duplicates: every platform must be a ZIMPlatformType number
// (invalid_push_platform), each list at most MaxPushRulePlatforms long
// (too_many_push_platforms).
func ValidatePushRule(r OfflinePushRule) (online, notTo []int, perr *Error) {
	clean := func(name string, ps []int) ([]int, *Error) {
		if len(ps) > MaxPushRulePlatforms {
			return nil, Errorf(CodeTooManyPushPlatforms, "%s has %d platforms; at most %d", name, len(ps), MaxPushRulePlatforms)
		}
		out := make([]int, 0, len(ps))
		for _, p := range ps {
			switch p {
			case PlatformWin, PlatformIPhoneOS, PlatformAndroid, PlatformMacOS, PlatformLinux, PlatformWeb,
				PlatformMiniProgram, PlatformIPadOS:
			default:
				return nil, Errorf(CodeInvalidPushPlatform, "%s: %d is not a platform (1 win, 2 iPhoneOS, 3 android, 4 macOS, 5 linux, 6 web, 7 miniProgram, 9 iPadOS)", name, p)
			}
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
		slices.Sort(out)
		return out, nil
	}
	if online, perr = clean("onlinePlatforms", r.OnlinePlatforms); perr != nil {
		return nil, nil, perr
	}
	if notTo, perr = clean("notToReceiveOfflinePushPlatforms", r.NotToReceiveOfflinePushPlatforms); perr != nil {
		return nil, nil, perr
	}
	return online, notTo, nil
}
