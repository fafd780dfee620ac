package protocol

import "slices"

// Conversation notification status and mentions (ZIM
// setConversationNotificationStatus, ZIMMessage mentionedUserIDs and
// isMentionAll). docs/protocol.md, "Conversation notification status and
// mentions", is the prose form.

// TypeSetConversationNotificationStatus sets the caller's notification
// status of one conversation, for all its devices.
const TypeSetConversationNotificationStatus = "setConversationNotificationStatus"

// EventConversationChanged tells every live session of a user that one of
// its conversations changed (ZIM conversationChanged); it carries the
// conversation as conversationList shows it.
const EventConversationChanged = "conversationChanged"

var conversationTypes = []string{TypeSetConversationNotificationStatus}

// Conversation notification statuses. Notify and DoNotDisturb are ZIM's
// ZIMConversationNotificationStatus values; MentionsOnly is Herald's, for
// group conversations only.
const (
	// NotifyStatusNotify: every message with a push config is pushed (the
	// status of a conversation never set).
	NotifyStatusNotify = 1
	// NotifyStatusDoNotDisturb: messages still count unread but are not
	// pushed, except those whose mention list names the user or @all; the
	// conversation's unread messages are left out of the badge.
	NotifyStatusDoNotDisturb = 2
	// NotifyStatusMentionsOnly (groups): only the messages whose mention
	// list names the user or @all are pushed; the conversation's unread
	// messages still count in the badge.
	NotifyStatusMentionsOnly = 3
)

// MaxMentionedUsers bounds a message's mention list.
const MaxMentionedUsers = 50

// MaxBadgeIncrement bounds a push config's badgeIncrement (Huawei's
// badge add_num is at most 99).
const MaxBadgeIncrement = 99

// SetConversationNotificationStatusRequest is the data of
// setConversationNotificationStatus (ZIM's argument order: status,
// conversationID, conversationType).
type SetConversationNotificationStatusRequest struct {
	Status           int    `json:"status"`
	ConversationID   string `json:"conversationID"`
	ConversationType int    `json:"conversationType"`
}

// SetConversationNotificationStatusReply answers it (ZIM
// ZIMConversationNotificationStatusSetResult).
type SetConversationNotificationStatusReply struct {
	ConversationID   string `json:"conversationID"`
	ConversationType int    `json:"conversationType"`
	Status           int    `json:"status"`
}

// Conversation change events (ZIMConversationEvent).
const (
	ConversationEventAdded   = 0
	ConversationEventUpdated = 1
)

// ConversationChangeInfo is one entry of conversationChanged (ZIM
// ZIMConversationChangeInfo).
type ConversationChangeInfo struct {
	Event        int          `json:"event"`
	Conversation Conversation `json:"conversation"`
}

// ConversationChanged is the data of the conversationChanged event.
type ConversationChanged struct {
	InfoList []ConversationChangeInfo `json:"infoList"`
}

// ValidNotifyStatus checks a notification status for a conversation
// type: CodeInvalidNotifyStatus for a status not 1, 2 or 3, or 3 on a peer
// conversation.
func ValidNotifyStatus(status, convType int) *Error {
	switch status {
	case NotifyStatusNotify, NotifyStatusDoNotDisturb:
		return nil
	case NotifyStatusMentionsOnly:
		if convType != ConversationGroup {
			return Errorf(CodeInvalidNotifyStatus, "status 3 (mentionsOnly) is for group conversations only")
		}
		return nil
	}
	return Errorf(CodeInvalidNotifyStatus, "status must be 1 (notify), 2 (doNotDisturb) or 3 (mentionsOnly, groups)")
}

// ValidateMentions checks a send's mention list: group conversations
// only, not on commands, at most MaxMentionedUsers valid user IDs (not
// the system user). Repeated IDs are kept once, in their first place.
func ValidateMentions(r *SendRequest) *Error {
	if len(r.MentionedUserIDs) == 0 && !r.IsMentionAll {
		r.MentionedUserIDs = nil
		return nil
	}
	switch {
	case r.ConversationType != ConversationGroup:
		return Errorf(CodeInvalidMention, "mentions are for group messages only")
	case r.Type == MessageCommand:
		return Errorf(CodeInvalidMention, "command messages carry no mentions")
	case len(r.MentionedUserIDs) > MaxMentionedUsers:
		return Errorf(CodeInvalidMention, "at most %d mentioned users", MaxMentionedUsers)
	}
	out := make([]string, 0, len(r.MentionedUserIDs))
	for _, u := range r.MentionedUserIDs {
		if !ValidUserID(u) || u == SystemUserID {
			return Errorf(CodeInvalidMention, "mentionedUserIDs: %q is not a valid user ID", u)
		}
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	if len(out) == 0 {
		out = nil
	}
	r.MentionedUserIDs = out
	return nil
}
