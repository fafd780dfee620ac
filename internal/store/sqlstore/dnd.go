package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

// Conversation notification statuses and mention lists (migration
// 00021): see im/dnd.go for the rules. The push filter is part of every
// planning statement of a message's push (planQuery, planBatchSQL), so that
// a page of a group's members stays one statement.

var (
	_ im.NotifyStore     = (*Store)(nil)
	_ push.BadgeCounter  = (*Store)(nil)
	_ push.UnreadCounter = (*Store)(nil)
)

// notifyStatusColumn is a conversation row's status, from the LEFT JOIN
// of conversation_settings cs.
const notifyStatusColumn = `COALESCE(cs.notification_status, 1)`

// quietFilter* is the push planning condition of a message's push to the
// device d: no job when d's user set the message's conversation to
// anything but notify (do-not-disturb, mentions-only) and the message's
// mention list names neither the user nor @all (user_id ”). The message
// ID's expression goes between the parts: $3 (quietFilterPlan), or
// v.column3 in the batch statement (quietFilterBatch).
const (
	quietFilterHead = `
	AND NOT EXISTS (SELECT 1 FROM messages qm
		JOIN conversation_settings cs ON cs.app_id = qm.app_id AND cs.conv_id = qm.conv_id
		WHERE qm.id = `
	quietFilterMid = ` AND qm.app_id = d.app_id AND cs.user_id = d.user_id AND cs.notification_status <> 1
			AND NOT EXISTS (SELECT 1 FROM message_mentions mm WHERE mm.app_id = d.app_id AND mm.message_id = `
	quietFilterTail = `
				AND (mm.user_id = d.user_id OR mm.user_id = '')))`
	quietFilterPlan  = quietFilterHead + `$3` + quietFilterMid + `$3` + quietFilterTail
	quietFilterBatch = quietFilterHead + `v.column3` + quietFilterMid + `v.column3` + quietFilterTail
)

const (
	qSetNotifyStatus = `INSERT INTO conversation_settings (app_id, user_id, conv_id, notification_status, updated_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (app_id, user_id, conv_id) DO UPDATE SET notification_status = excluded.notification_status,
	updated_at = excluded.updated_at`

	qInsertMention = `INSERT INTO message_mentions (app_id, message_id, user_id) VALUES ($1, $2, $3)
ON CONFLICT (app_id, message_id, user_id) DO NOTHING`

	qGroupConversation = qGroupConversationSelect + `
WHERE m.app_id = $1 AND m.user_id = $2 AND m.group_id = $3 AND g.last_seq > m.joined_seq`

	// qUnreadTotal is the badge count: the peer conversations' stored
	// unread counts plus each group's messages after the member's read
	// position (the count the conversation list shows), leaving out the
	// conversations the user set to do-not-disturb.
	qUnreadTotal = `SELECT
	(SELECT COALESCE(SUM(c.unread), 0) FROM conversations c WHERE c.app_id = $1 AND c.owner_id = $2
		AND NOT EXISTS (SELECT 1 FROM conversation_settings cs WHERE cs.app_id = c.app_id AND cs.user_id = c.owner_id
			AND cs.conv_id = c.conv_id AND cs.notification_status = 2)) +
	(SELECT COALESCE(SUM(g.last_seq - m.read_seq), 0) FROM group_members m
		JOIN im_groups g ON g.app_id = m.app_id AND g.group_id = m.group_id
		WHERE m.app_id = $1 AND m.user_id = $2 AND g.last_seq > m.read_seq
		AND NOT EXISTS (SELECT 1 FROM conversation_settings cs WHERE cs.app_id = m.app_id AND cs.user_id = m.user_id
			AND cs.conv_id = 'g:' || m.group_id AND cs.notification_status = 2))`

	// qUnreadSelf is 1 when message $3 is among what qUnreadTotal counts
	// for user $2: not the user's own, in a conversation not set to
	// do-not-disturb, after the user's read position there.
	qUnreadSelf = `SELECT COUNT(*) FROM messages qm
WHERE qm.id = $3 AND qm.app_id = $1 AND qm.sender <> $2
	AND NOT EXISTS (SELECT 1 FROM conversation_settings cs WHERE cs.app_id = qm.app_id AND cs.user_id = $2
		AND cs.conv_id = qm.conv_id AND cs.notification_status = 2)
	AND (EXISTS (SELECT 1 FROM conversations c WHERE c.app_id = qm.app_id AND c.owner_id = $2
			AND c.conv_id = qm.conv_id AND c.read_seq < qm.seq)
		OR EXISTS (SELECT 1 FROM group_members gm WHERE gm.app_id = qm.app_id AND gm.user_id = $2
			AND 'g:' || gm.group_id = qm.conv_id AND gm.read_seq < qm.seq))`
)

// SetNotifyStatus implements im.NotifyStore.
func (s *Store) SetNotifyStatus(ctx context.Context, appID, userID, convID string, status int, at time.Time) error {
	_, err := s.w.ExecContext(ctx, qSetNotifyStatus, appID, userID, convID, status, at.UnixMilli())
	return ctxErr(ctx, "store: set notification status", err)
}

// groupConversation is Conversation for a group: im.ErrNotFound unless
// the user is a member that may see a message of it.
func (s *Store) groupConversation(ctx context.Context, appID, userID, group string) (im.Conversation, error) {
	const op = "store: group conversation"
	rows, err := s.r.QueryContext(ctx, qGroupConversation, appID, userID, group)
	if err != nil {
		return im.Conversation{}, ctxErr(ctx, op, err)
	}
	cs, err := scanGroupConversations(rows, appID)
	if err != nil {
		return im.Conversation{}, ctxErr(ctx, op, err)
	}
	if len(cs) == 0 {
		return im.Conversation{}, fmt.Errorf("%s: %w", op, im.ErrNotFound)
	}
	return cs[0], nil
}

// UnreadTotal implements push.UnreadCounter: the sum of a user's unread
// counts across its conversations, peer and group, but those it set to
// do-not-disturb.
func (s *Store) UnreadTotal(ctx context.Context, appID, userID string) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, qUnreadTotal, appID, userID).Scan(&n); err != nil {
		return 0, ctxErr(ctx, "store: unread total", err)
	}
	return n, nil
}

// UnreadExcept implements push.BadgeCounter: UnreadTotal without message
// messageID when it is counted there.
func (s *Store) UnreadExcept(ctx context.Context, appID, userID string, messageID int64) (int64, error) {
	total, err := s.UnreadTotal(ctx, appID, userID)
	if err != nil || messageID == 0 {
		return total, err
	}
	var self int64
	if err := s.r.QueryRowContext(ctx, qUnreadSelf, appID, userID, messageID).Scan(&self); err != nil {
		return 0, ctxErr(ctx, "store: unread except", err)
	}
	return max(total-self, 0), nil
}

// wireMentions is messages.mentions: the mention list as delivered.
type wireMentions struct {
	UserIDs []string `json:"userIDs,omitempty"`
	All     bool     `json:"all,omitempty"`
}

// storedMentions is m's mentions column value: NULL without a list.
func storedMentions(m *im.Message) any {
	if len(m.MentionedUsers) == 0 && !m.MentionAll {
		return nil
	}
	b, err := json.Marshal(wireMentions{UserIDs: m.MentionedUsers, All: m.MentionAll})
	if err != nil {
		return nil // a []string and a bool always encode
	}
	return string(b)
}

// writeMentions writes m's mention list rows (message_mentions), ” for
// @all, in tx.
func writeMentions(ctx context.Context, tx *sql.Tx, m *im.Message) error {
	if m.MentionAll {
		if _, err := tx.ExecContext(ctx, qInsertMention, m.AppID, m.ID, ""); err != nil {
			return err
		}
	}
	for _, u := range m.MentionedUsers {
		if _, err := tx.ExecContext(ctx, qInsertMention, m.AppID, m.ID, u); err != nil {
			return err
		}
	}
	return nil
}

// mentionsColumn scans the mentions column into a message.
type mentionsColumn struct{ m *im.Message }

// Scan implements sql.Scanner.
func (col mentionsColumn) Scan(v any) error {
	var b []byte
	switch v := v.(type) {
	case nil:
		return nil
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("mentions: unexpected %T", v)
	}
	if len(b) == 0 {
		return nil
	}
	var w wireMentions
	if err := json.Unmarshal(b, &w); err != nil {
		return errors.Join(errors.New("mentions unreadable"), err)
	}
	col.m.MentionedUsers, col.m.MentionAll = w.UserIDs, w.All
	return nil
}
