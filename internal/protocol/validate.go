package protocol

import "unicode/utf8"

// Conversation types, numbered as in the seed's SDK.
const (
	ConversationPeer  = 0
	ConversationGroup = 2
)

// Message types, numbered as in the seed's SDK.
const (
	MessageText    = 1
	MessageCommand = 2
	MessageCustom  = 200
)

// Priorities, numbered as in the seed's SDK. Zero in a request means Medium.
const (
	PriorityLow    = 1
	PriorityMedium = 2
	PriorityHigh   = 3
)

// Limits. Bodies are measured in bytes (UTF-8 for text).
const (
	MaxUserIDLen          = 64
	MaxDeviceIDLen        = 128
	MaxLocalIDLen         = 64
	MaxTextBytes          = 32 * 1024
	MaxCustomBytes        = 32 * 1024
	MaxCommandBytes       = 32 * 1024
	MaxSearchedContentLen = 64
	MaxExtendedDataBytes  = 1024
	MaxPushTitleBytes     = 256
	MaxPushContentBytes   = 1024
	MaxPushPayloadBytes   = 2048
	MaxPushResourceIDLen  = 64
	MaxPageCount          = 100
	DefaultPageCount      = 20
	MaxAcksPerFrame       = 1000
	// MaxFrameBytes bounds one incoming frame: a 32 KiB binary body is 43.7 KiB
	// in base64, plus the envelope and push config.
	MaxFrameBytes = 64 * 1024
)

// SystemUserID is the sender of the messages an app's server sends as the
// system (the server API's "system": true). It is reserved: nobody logs in
// as it, a client sends nothing to it, and a server API send names it only
// through "system". A user sees system messages to it in the peer
// conversation with SystemUserID, and in groups; each carries system: true.
const SystemUserID = "@system"

// Platforms a session may log in from. The kick policy is per platform.
var platforms = map[string]bool{
	"ios": true, "android": true, "web": true, "windows": true, "macos": true,
	"linux": true, "ipados": true, "harmonyos": true, "server": true,
}

// ValidPlatform reports whether p is a known platform name.
func ValidPlatform(p string) bool { return platforms[p] }

// ValidUserID reports whether id is a valid user ID: 1 to 64 characters from
// A-Z a-z 0-9 and "_-.@+=". Colons and other separators are excluded so that
// IDs can be joined into keys unambiguously.
func ValidUserID(id string) bool {
	return validName(id, MaxUserIDLen)
}

// ValidDeviceID reports whether id is a valid device ID: same alphabet as user
// IDs, up to 128 characters.
func ValidDeviceID(id string) bool {
	return validName(id, MaxDeviceIDLen)
}

// ValidLocalID reports whether id is a valid local message ID: 1 to 64
// printable ASCII characters without spaces.
func ValidLocalID(id string) bool {
	if len(id) == 0 || len(id) > MaxLocalIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

func validName(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_' || c == '-' || c == '.' || c == '@' || c == '+' || c == '=':
		default:
			return false
		}
	}
	return true
}

// ValidateSend checks a send request against the rules in docs/protocol.md
// and normalises its priority (0 becomes medium). It checks only what can be
// judged from the request itself; the server adds the sender's context.
func ValidateSend(r *SendRequest) *Error {
	if r.ConversationType != ConversationPeer && r.ConversationType != ConversationGroup {
		return Errorf(CodeInvalidConversation, "conversationType must be 0 (peer) or 2 (group)")
	}
	if r.ConversationType == ConversationGroup && !ValidGroupID(r.ConversationID) {
		return GroupIDError()
	}
	if r.ConversationType == ConversationPeer && !ValidUserID(r.ConversationID) {
		return Errorf(CodeInvalidUserID, "conversationID is not a valid user ID")
	}
	if r.ConversationType == ConversationPeer && r.ConversationID == SystemUserID {
		return Errorf(CodeReservedUserID, "messages cannot be sent to the system user %s", SystemUserID)
	}
	switch r.Priority {
	case 0:
		r.Priority = PriorityMedium
	case PriorityLow, PriorityMedium, PriorityHigh:
	default:
		return Errorf(CodeInvalidPriority, "")
	}
	if r.Type != MessageCommand && !ValidLocalID(r.LocalMessageID) {
		return Errorf(CodeInvalidArgument, "localMessageID must be 1 to %d printable ASCII characters", MaxLocalIDLen)
	}
	if r.Type == MessageCommand && r.LocalMessageID != "" && !ValidLocalID(r.LocalMessageID) {
		return Errorf(CodeInvalidArgument, "localMessageID must be 1 to %d printable ASCII characters", MaxLocalIDLen)
	}
	switch r.Type {
	case MessageText:
		if len(r.Data) != 0 {
			return Errorf(CodeInvalidArgument, "a text message carries text, not data")
		}
		if r.Text == "" {
			return Errorf(CodeEmptyMessage, "")
		}
		if !utf8.ValidString(r.Text) {
			return Errorf(CodeInvalidArgument, "text is not valid UTF-8")
		}
		if len(r.Text) > MaxTextBytes {
			return Errorf(CodeMessageTooLarge, "text is %d bytes, over the %d byte limit", len(r.Text), MaxTextBytes)
		}
	case MessageCustom, MessageCommand:
		if r.Text != "" {
			return Errorf(CodeInvalidArgument, "custom and command messages carry data, not text")
		}
		if len(r.Data) == 0 {
			return Errorf(CodeEmptyMessage, "")
		}
		max := MaxCustomBytes
		if r.Type == MessageCommand {
			max = MaxCommandBytes
		}
		if len(r.Data) > max {
			return Errorf(CodeMessageTooLarge, "data is %d bytes, over the %d byte limit", len(r.Data), max)
		}
	default:
		return Errorf(CodeInvalidMessageType, "type must be 1 (text), 2 (command) or 200 (custom)")
	}
	if r.SubType < 0 || r.SubType > 1<<20 {
		return Errorf(CodeInvalidArgument, "subType out of range")
	}
	if len(r.SearchedContent) > MaxSearchedContentLen || !utf8.ValidString(r.SearchedContent) {
		return Errorf(CodeInvalidArgument, "searchedContent over %d bytes or not UTF-8", MaxSearchedContentLen)
	}
	if len(r.ExtendedData) > MaxExtendedDataBytes || !utf8.ValidString(r.ExtendedData) {
		return Errorf(CodeInvalidArgument, "extendedData over %d bytes or not UTF-8", MaxExtendedDataBytes)
	}
	if pc := r.PushConfig; pc != nil {
		if r.Type == MessageCommand {
			return Errorf(CodeInvalidPushConfig, "command messages are never pushed")
		}
		if err := ValidatePushConfig(pc); err != nil {
			return err
		}
	}
	return ValidateMentions(r)
}

// ValidatePushConfig checks a push config's fields against their limits
// (a message's, or a push sent through the admin API).
func ValidatePushConfig(pc *PushConfig) *Error {
	switch {
	case len(pc.Title) > MaxPushTitleBytes || !utf8.ValidString(pc.Title):
		return Errorf(CodeInvalidPushConfig, "pushConfig.title over %d bytes or not UTF-8", MaxPushTitleBytes)
	case len(pc.Content) > MaxPushContentBytes || !utf8.ValidString(pc.Content):
		return Errorf(CodeInvalidPushConfig, "pushConfig.content over %d bytes or not UTF-8", MaxPushContentBytes)
	case len(pc.Payload) > MaxPushPayloadBytes || !utf8.ValidString(pc.Payload):
		return Errorf(CodeInvalidPushConfig, "pushConfig.payload over %d bytes or not UTF-8", MaxPushPayloadBytes)
	case pc.ResourcesID != "" && !ValidResourceID(pc.ResourcesID):
		return Errorf(CodeInvalidPushConfig, "pushConfig.resourcesID must be up to %d characters of A-Z a-z 0-9 _-.@+=", MaxPushResourceIDLen)
	case pc.BadgeIncrement < 0 || pc.BadgeIncrement > MaxBadgeIncrement:
		return Errorf(CodeInvalidPushConfig, "pushConfig.badgeIncrement must be 0 to %d", MaxBadgeIncrement)
	}
	return nil
}

// ValidResourceID reports whether id is a valid push resource ID: 1 to
// MaxPushResourceIDLen characters of A-Z a-z 0-9 _-.@+=.
func ValidResourceID(id string) bool { return validName(id, MaxPushResourceIDLen) }

// PageCount normalises a requested page size: 0 gives the default, and the
// result never exceeds MaxPageCount. A negative count is an error.
func PageCount(n int) (int, *Error) {
	switch {
	case n < 0:
		return 0, Errorf(CodeInvalidArgument, "count must not be negative")
	case n == 0:
		return DefaultPageCount, nil
	case n > MaxPageCount:
		return MaxPageCount, nil
	}
	return n, nil
}
