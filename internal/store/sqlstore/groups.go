package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

const groupColumns = `app_id, group_id, name, extended_data, owner_id, member_count, last_seq,
	last_msg_id, dismissed_at, created_at, join_mode`

const (
	qInsertGroup = `INSERT INTO im_groups (` + groupColumns + `)
VALUES ($1, $2, $3, $4, $5, $6, 0, 0, 0, $7, $8)`

	qGroup = `SELECT ` + groupColumns + ` FROM im_groups WHERE app_id = $1 AND group_id = $2`

	qGroupLastSeq = `SELECT last_seq FROM im_groups WHERE app_id = $1 AND group_id = $2`

	qInsertMember = `INSERT INTO group_members (app_id, group_id, user_id, role, joined_seq, read_seq, joined_at)
VALUES ($1, $2, $3, $4, $5, $5, $6)`

	qDeleteMember = `DELETE FROM group_members WHERE app_id = $1 AND group_id = $2 AND user_id = $3`

	qCountMembers = `UPDATE im_groups SET member_count =
	(SELECT COUNT(*) FROM group_members WHERE app_id = $1 AND group_id = $2)
WHERE app_id = $1 AND group_id = $2`

	qMembersAfter = `SELECT user_id, role, joined_seq, read_seq, joined_at FROM group_members
WHERE app_id = $1 AND group_id = $2 AND user_id > $3 ORDER BY user_id LIMIT $4`

	qSetRole = `UPDATE group_members SET role = $4 WHERE app_id = $1 AND group_id = $2 AND user_id = $3`

	qSetOwner = `UPDATE im_groups SET owner_id = $3 WHERE app_id = $1 AND group_id = $2`

	qDismissGroup = `UPDATE im_groups SET dismissed_at = $3, member_count = 0 WHERE app_id = $1 AND group_id = $2`

	qDeleteMembers = `DELETE FROM group_members WHERE app_id = $1 AND group_id = $2`

	qUserGroups = `SELECT g.app_id, g.group_id, g.name, g.extended_data, g.owner_id, g.member_count,
	g.last_seq, g.last_msg_id, g.dismissed_at, g.created_at, g.join_mode, m.role
FROM group_members m JOIN im_groups g ON g.app_id = m.app_id AND g.group_id = m.group_id
WHERE m.app_id = $1 AND m.user_id = $2 AND m.group_id > $3 ORDER BY m.group_id LIMIT $4`

	qMemberReadState = `SELECT g.last_seq, m.read_seq FROM group_members m
JOIN im_groups g ON g.app_id = m.app_id AND g.group_id = m.group_id
WHERE m.app_id = $1 AND m.group_id = $2 AND m.user_id = $3`

	qSetMemberRead = `UPDATE group_members SET read_seq = $4 WHERE app_id = $1 AND group_id = $2 AND user_id = $3`

	// qGroupAppended applies a batch's messages to a group's row.
	qGroupAppended = `UPDATE im_groups SET last_seq = $3, last_msg_id = $4 WHERE app_id = $1 AND group_id = $2`

	// qSenderRead moves a sender's read position to its own message: what
	// came before it counts as read.
	qSenderRead = `UPDATE group_members SET read_seq = $4
WHERE app_id = $1 AND group_id = $2 AND user_id = $3 AND read_seq < $4`

	// qQuietRead moves past a batch of quiet (imported) messages the read
	// position of every member that had read up to the group's last
	// message before them ($3).
	qQuietRead = `UPDATE group_members SET read_seq = $4
WHERE app_id = $1 AND group_id = $2 AND read_seq >= $3 AND read_seq < $4`

	qInsertFanout = `INSERT INTO group_fanouts (message_id, app_id, group_id, seq, sender, push_config,
	expires_at, after_user, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8)`

	qFanouts = `SELECT message_id, app_id, group_id, seq, sender, push_config, expires_at, after_user, created_at
FROM group_fanouts ORDER BY message_id LIMIT $1`

	qFanoutProgress = `UPDATE group_fanouts SET after_user = $2 WHERE message_id = $1`

	qDeleteFanout = `DELETE FROM group_fanouts WHERE message_id = $1`

	qSetJoinMode = `UPDATE im_groups SET join_mode = $3 WHERE app_id = $1 AND group_id = $2`

	qPutJoinRequest = `INSERT INTO group_join_requests (app_id, group_id, user_id, message, state, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (app_id, group_id, user_id) DO UPDATE SET message = excluded.message, state = excluded.state,
	created_at = excluded.created_at, updated_at = excluded.updated_at`

	joinRequestColumns = `app_id, group_id, user_id, message, state, created_at, updated_at`

	qJoinRequest = `SELECT ` + joinRequestColumns + ` FROM group_join_requests
WHERE app_id = $1 AND group_id = $2 AND user_id = $3`

	qJoinRequests = `SELECT ` + joinRequestColumns + ` FROM group_join_requests
WHERE app_id = $1 AND group_id = $2 AND user_id > $3 ORDER BY user_id LIMIT $4`

	// qDecideJoinRequest moves a pending request to its outcome ($4).
	qDecideJoinRequest = `UPDATE group_join_requests SET state = $4, updated_at = $5
WHERE app_id = $1 AND group_id = $2 AND user_id = $3 AND state = 0`

	// qGroupConversations is the group part of a user's conversation list:
	// groups with a message the user may see, with that message.
	// qGroupConversationSelect reads group conversation rows: a
	// member's groups with their last message and the member's status.
	qGroupConversationSelect = `SELECT g.group_id, g.last_seq, g.last_seq - m.read_seq, g.last_msg_id,
	x.id, COALESCE(x.seq, 0), COALESCE(x.sender, ''), COALESCE(x.type, 0), COALESCE(x.sub_type, 0),
	COALESCE(x.text, ''), x.data, COALESCE(x.searched_content, ''), COALESCE(x.extended_data, ''),
	COALESCE(x.priority, 0), COALESCE(x.local_id, ''), x.content_hash, x.push_config,
	COALESCE(x.created_at, 0), x.mentions, ` + notifyStatusColumn + `
FROM group_members m
JOIN im_groups g ON g.app_id = m.app_id AND g.group_id = m.group_id
LEFT JOIN messages x ON x.app_id = g.app_id AND x.conv_id = 'g:' || g.group_id AND x.seq = g.last_seq
LEFT JOIN conversation_settings cs ON cs.app_id = m.app_id AND cs.user_id = m.user_id AND cs.conv_id = 'g:' || m.group_id`
	qGroupConversations = qGroupConversationSelect + `
WHERE m.app_id = $1 AND m.user_id = $2 AND g.last_seq > m.joined_seq AND g.last_msg_id < $3
ORDER BY g.last_msg_id DESC LIMIT $4`

	// qGroupPending is the group part of Pending: the device's position is
	// never below what the member may see.
	qGroupPending = `SELECT g.group_id,
	CASE WHEN COALESCE(k.seq, 0) > m.joined_seq THEN COALESCE(k.seq, 0) ELSE m.joined_seq END,
	g.last_seq
FROM group_members m
JOIN im_groups g ON g.app_id = m.app_id AND g.group_id = m.group_id
LEFT JOIN cursors k ON k.app_id = m.app_id AND k.user_id = m.user_id AND k.device_id = $3
	AND k.conv_id = 'g:' || m.group_id
WHERE m.app_id = $1 AND m.user_id = $2
	AND g.last_seq > CASE WHEN COALESCE(k.seq, 0) > m.joined_seq THEN COALESCE(k.seq, 0) ELSE m.joined_seq END
ORDER BY g.group_id`
)

// CreateGroup implements im.GroupStore.
func (s *Store) CreateGroup(ctx context.Context, g im.Group, members []im.GroupMember) error {
	const op = "store: create group"
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, qInsertGroup, g.AppID, g.ID, g.Name, g.ExtendedData, g.Owner,
			len(members), g.CreatedAt.UnixMilli(), g.JoinMode); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, qInsertMember)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, m := range members {
			if _, err := stmt.ExecContext(ctx, g.AppID, g.ID, m.UserID, m.Role, 0, m.JoinedAt.UnixMilli()); err != nil {
				return err
			}
		}
		return nil
	})
}

// Group implements im.GroupStore.
func (s *Store) Group(ctx context.Context, appID, groupID string) (im.Group, error) {
	g, err := scanGroup(s.r.QueryRowContext(ctx, qGroup, appID, groupID))
	if err != nil {
		return im.Group{}, ctxErr(ctx, "store: group", err)
	}
	return g, nil
}

func scanGroup(sc scanner, extra ...any) (im.Group, error) {
	var g im.Group
	var dismissed, created int64
	dest := append([]any{&g.AppID, &g.ID, &g.Name, &g.ExtendedData, &g.Owner, &g.MemberCount,
		&g.LastSeq, &g.LastMsgID, &dismissed, &created, &g.JoinMode}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return im.Group{}, err
	}
	if dismissed != 0 {
		g.DismissedAt = fromMillis(dismissed)
	}
	g.CreatedAt = fromMillis(created)
	return g, nil
}

// GroupMembers implements im.GroupStore.
func (s *Store) GroupMembers(ctx context.Context, appID, groupID, after string, limit int) ([]im.GroupMember, error) {
	const op = "store: group members"
	if limit <= 0 {
		limit = math.MaxInt32 // every member; -1 would not run on PostgreSQL
	}
	rows, err := s.r.QueryContext(ctx, qMembersAfter, appID, groupID, after, limit)
	if err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	defer rows.Close()
	var ms []im.GroupMember
	for rows.Next() {
		var m im.GroupMember
		var joined int64
		if err := rows.Scan(&m.UserID, &m.Role, &m.JoinedSeq, &m.ReadSeq, &joined); err != nil {
			return nil, ctxErr(ctx, op, err)
		}
		m.JoinedAt = fromMillis(joined)
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	return ms, nil
}

// AddGroupMembers implements im.GroupStore.
func (s *Store) AddGroupMembers(ctx context.Context, appID, groupID string, members []im.GroupMember) (int64, error) {
	var last int64
	err := s.inTx(ctx, "store: add group members", func(tx *sql.Tx) error {
		if err := s.lockConversation(ctx, tx, appID, im.GroupConvID(groupID)); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, qGroupLastSeq, appID, groupID).Scan(&last); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, qInsertMember)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, m := range members {
			if _, err := stmt.ExecContext(ctx, appID, groupID, m.UserID, m.Role, last, m.JoinedAt.UnixMilli()); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, qDecideJoinRequest, appID, groupID, m.UserID, im.JoinAccepted,
				m.JoinedAt.UnixMilli()); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, qCountMembers, appID, groupID)
		return err
	})
	return last, err
}

// RemoveGroupMembers implements im.GroupStore.
func (s *Store) RemoveGroupMembers(ctx context.Context, appID, groupID string, users []string) error {
	return s.inTx(ctx, "store: remove group members", func(tx *sql.Tx) error {
		for _, u := range users {
			if _, err := tx.ExecContext(ctx, qDeleteMember, appID, groupID, u); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, qCountMembers, appID, groupID)
		return err
	})
}

// SetGroupRoles implements im.GroupStore.
func (s *Store) SetGroupRoles(ctx context.Context, appID, groupID string, roles map[string]int, owner string) error {
	return s.inTx(ctx, "store: set group roles", func(tx *sql.Tx) error {
		for u, r := range roles {
			if _, err := tx.ExecContext(ctx, qSetRole, appID, groupID, u, r); err != nil {
				return err
			}
		}
		if owner != "" {
			if _, err := tx.ExecContext(ctx, qSetOwner, appID, groupID, owner); err != nil {
				return err
			}
		}
		return nil
	})
}

// DismissGroup implements im.GroupStore.
func (s *Store) DismissGroup(ctx context.Context, appID, groupID string, at time.Time) error {
	return s.inTx(ctx, "store: dismiss group", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, qDismissGroup, appID, groupID, at.UnixMilli())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, sql.ErrNoRows)
		}
		_, err = tx.ExecContext(ctx, qDeleteMembers, appID, groupID)
		return err
	})
}

// UserGroups implements im.GroupStore.
func (s *Store) UserGroups(ctx context.Context, appID, userID, after string, limit int) ([]im.UserGroup, error) {
	const op = "store: user groups"
	rows, err := s.r.QueryContext(ctx, qUserGroups, appID, userID, after, limit)
	if err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	defer rows.Close()
	var gs []im.UserGroup
	for rows.Next() {
		var ug im.UserGroup
		g, err := scanGroup(rows, &ug.Role)
		if err != nil {
			return nil, ctxErr(ctx, op, err)
		}
		ug.Group = g
		gs = append(gs, ug)
	}
	if err := rows.Err(); err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	return gs, nil
}

// MarkGroupRead implements im.GroupStore.
func (s *Store) MarkGroupRead(ctx context.Context, appID, userID, groupID string, seq int64) (int64, error) {
	if seq < 0 {
		return 0, fmt.Errorf("store: mark group read: negative seq %d", seq)
	}
	var unread int64
	err := s.inTx(ctx, "store: mark group read", func(tx *sql.Tx) error {
		if err := s.lockConversation(ctx, tx, appID, im.GroupConvID(groupID)); err != nil {
			return err
		}
		var last, read int64
		if err := tx.QueryRowContext(ctx, qMemberReadState, appID, groupID, userID).Scan(&last, &read); err != nil {
			return err
		}
		target := last
		if seq != 0 && seq < last {
			target = seq
		}
		read = max(read, target)
		unread = last - read
		_, err := tx.ExecContext(ctx, qSetMemberRead, appID, groupID, userID, read)
		return err
	})
	return unread, err
}

// GroupFanouts implements im.GroupStore.
func (s *Store) GroupFanouts(ctx context.Context, limit int) ([]im.GroupFanout, error) {
	const op = "store: group fanouts"
	rows, err := s.r.QueryContext(ctx, qFanouts, limit)
	if err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	defer rows.Close()
	var fs []im.GroupFanout
	for rows.Next() {
		var f im.GroupFanout
		var expires, created int64
		var cfg *push.Content
		if err := rows.Scan(&f.MessageID, &f.AppID, &f.GroupID, &f.Seq, &f.Sender, contentColumn{&cfg},
			&expires, &f.AfterUser, &created); err != nil {
			return nil, ctxErr(ctx, op, err)
		}
		if cfg != nil {
			f.PushConfig = *cfg
		}
		if expires != 0 {
			f.ExpiresAt = fromMillis(expires)
		}
		f.CreatedAt = fromMillis(created)
		fs = append(fs, f)
	}
	if err := rows.Err(); err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	return fs, nil
}

// PlanGroupPush implements im.GroupStore.
func (s *Store) PlanGroupPush(ctx context.Context, f im.GroupFanout, users []string, next string) error {
	now := time.Now()
	return s.inTx(ctx, "store: plan group push", func(tx *sql.Tx) error {
		if len(users) > 0 {
			// Once: a member whose session ended before its page was
			// planned may have had the message's late push already
			// (PlanPushOnce); the page must not plan a second job for the
			// device.
			in := messageIntent(f.AppID, f.MessageID, f.PushConfig, f.ExpiresAt, true, users...)
			p := s.planner(tx)
			defer p.close()
			if _, err := p.plan(ctx, in, now); err != nil {
				return err
			}
		}
		var err error
		if next == "" {
			_, err = tx.ExecContext(ctx, qDeleteFanout, f.MessageID)
		} else {
			_, err = tx.ExecContext(ctx, qFanoutProgress, f.MessageID, next)
		}
		return err
	})
}

// groupConversations reads the group part of a user's conversation list.
func (s *Store) groupConversations(ctx context.Context, appID, userID string, before int64, limit int) ([]im.Conversation, error) {
	rows, err := s.r.QueryContext(ctx, qGroupConversations, appID, userID, before, limit)
	if err != nil {
		return nil, err
	}
	return scanGroupConversations(rows, appID)
}

// scanGroupConversations reads rows of qGroupConversationSelect and
// closes them.
func scanGroupConversations(rows *sql.Rows, appID string) ([]im.Conversation, error) {
	defer rows.Close()
	var cs []im.Conversation
	for rows.Next() {
		var c im.Conversation
		var m im.Message
		var msgID sql.NullInt64
		var created int64
		var group string
		if err := rows.Scan(&group, &c.LastSeq, &c.Unread, &c.OrderKey, &msgID, &m.Seq, &m.Sender,
			&m.Type, &m.SubType, &m.Text, &m.Data, &m.SearchedContent, &m.ExtendedData, &m.Priority,
			&m.LocalID, &m.ContentHash, contentColumn{&m.PushConfig}, &created, mentionsColumn{&m}, &c.NotifyStatus); err != nil {
			return nil, err
		}
		c.ConvID, c.ConvType, c.PeerID = im.GroupConvID(group), convTypeGroup, group
		if msgID.Valid {
			m.AppID, m.ID, m.ConvID, m.ConvType, m.Recipient, m.CreatedAt = appID, msgID.Int64, c.ConvID, convTypeGroup, group, fromMillis(created)
			c.LastMsg = &m
		}
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

// groupPending reads the group part of Pending.
func (s *Store) groupPending(ctx context.Context, appID, userID, deviceID string) ([]im.Pending, error) {
	rows, err := s.r.QueryContext(ctx, qGroupPending, appID, userID, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ps []im.Pending
	for rows.Next() {
		var p im.Pending
		var group string
		if err := rows.Scan(&group, &p.Cursor, &p.LastSeq); err != nil {
			return nil, err
		}
		p.ConvID, p.ConvType, p.PeerID = im.GroupConvID(group), convTypeGroup, group
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

// SetGroupJoinMode implements im.GroupStore.
func (s *Store) SetGroupJoinMode(ctx context.Context, appID, groupID string, mode int) error {
	res, err := s.w.ExecContext(ctx, qSetJoinMode, appID, groupID, mode)
	if err == nil {
		err = affected(res)
	}
	return ctxErr(ctx, "store: set group join mode", err)
}

// affected is sql.ErrNoRows when res changed no row.
func affected(res sql.Result) error {
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = sql.ErrNoRows
	}
	return err
}

// PutJoinRequest implements im.GroupStore.
func (s *Store) PutJoinRequest(ctx context.Context, r im.JoinRequest) error {
	_, err := s.w.ExecContext(ctx, qPutJoinRequest, r.AppID, r.GroupID, r.UserID, r.Message, r.State,
		r.CreatedAt.UnixMilli(), r.UpdatedAt.UnixMilli())
	return ctxErr(ctx, "store: put join request", err)
}

func scanJoinRequest(sc scanner) (im.JoinRequest, error) {
	var r im.JoinRequest
	var created, updated int64
	if err := sc.Scan(&r.AppID, &r.GroupID, &r.UserID, &r.Message, &r.State, &created, &updated); err != nil {
		return im.JoinRequest{}, err
	}
	r.CreatedAt, r.UpdatedAt = fromMillis(created), fromMillis(updated)
	return r, nil
}

// JoinRequest implements im.GroupStore.
func (s *Store) JoinRequest(ctx context.Context, appID, groupID, userID string) (im.JoinRequest, error) {
	r, err := scanJoinRequest(s.r.QueryRowContext(ctx, qJoinRequest, appID, groupID, userID))
	if err != nil {
		return im.JoinRequest{}, ctxErr(ctx, "store: join request", err)
	}
	return r, nil
}

// JoinRequests implements im.GroupStore.
func (s *Store) JoinRequests(ctx context.Context, appID, groupID, after string, limit int) ([]im.JoinRequest, error) {
	const op = "store: join requests"
	rows, err := s.r.QueryContext(ctx, qJoinRequests, appID, groupID, after, limit)
	if err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	defer rows.Close()
	var rs []im.JoinRequest
	for rows.Next() {
		r, err := scanJoinRequest(rows)
		if err != nil {
			return nil, ctxErr(ctx, op, err)
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	return rs, nil
}

// DecideJoinRequest implements im.GroupStore.
func (s *Store) DecideJoinRequest(ctx context.Context, appID, groupID, userID string, state int, at time.Time) error {
	res, err := s.w.ExecContext(ctx, qDecideJoinRequest, appID, groupID, userID, state, at.UnixMilli())
	if err == nil {
		err = affected(res)
	}
	return ctxErr(ctx, "store: decide join request", err)
}
