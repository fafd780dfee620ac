package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/heraldim/herald/internal/im"
)

// Conversations returns up to limit of the user's conversations with
// OrderKey < before (all when before is 0), newest first; see im.Store. A
// limit of zero or less returns none.
func (s *Store) Conversations(ctx context.Context, appID, userID string, before int64, limit int) ([]im.Conversation, error) {
	const op = "store: conversations"
	if limit <= 0 {
		return nil, nil
	}
	if before == 0 {
		before = math.MaxInt64
	}
	rows, err := s.rConversations.QueryContext(ctx, appID, userID, before, limit)
	if err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	defer rows.Close()
	var convs []im.Conversation
	for rows.Next() {
		c, err := scanConversation(rows, appID)
		if err != nil {
			return nil, ctxErr(ctx, op, err)
		}
		convs = append(convs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	groups, err := s.groupConversations(ctx, appID, userID, before, limit)
	if err != nil {
		return nil, ctxErr(ctx, op+": groups", err)
	}
	if len(groups) == 0 {
		return convs, nil
	}
	// Both lists are newest first: merge them and keep the newest limit.
	all := make([]im.Conversation, 0, min(len(convs)+len(groups), limit))
	i, j := 0, 0
	for len(all) < limit && (i < len(convs) || j < len(groups)) {
		if j == len(groups) || (i < len(convs) && convs[i].OrderKey > groups[j].OrderKey) {
			all = append(all, convs[i])
			i++
		} else {
			all = append(all, groups[j])
			j++
		}
	}
	return all, nil
}

// Conversation returns one of the user's conversations; im.ErrNotFound if
// the user has none with that ID.
func (s *Store) Conversation(ctx context.Context, appID, userID, convID string) (im.Conversation, error) {
	if group, ok := strings.CutPrefix(convID, "g:"); ok {
		return s.groupConversation(ctx, appID, userID, group)
	}
	c, err := scanConversation(s.rConversation.QueryRowContext(ctx, appID, userID, convID), appID)
	if err != nil {
		return im.Conversation{}, ctxErr(ctx, "store: conversation", err)
	}
	return c, nil
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// scanConversation reads a row of convSelect.
func scanConversation(sc scanner, appID string) (im.Conversation, error) {
	var c im.Conversation
	var m im.Message
	var msgID sql.NullInt64
	var created int64
	var rv revokeCols
	if err := sc.Scan(&c.ConvID, &c.ConvType, &c.PeerID, &c.LastSeq, &c.Unread, &c.OrderKey,
		&msgID, &m.ConvType, &m.Seq, &m.Sender, &m.Recipient, &m.Type, &m.SubType, &m.Text,
		&m.Data, &m.SearchedContent, &m.ExtendedData, &m.Priority, &m.LocalID, &m.ContentHash,
		contentColumn{&m.PushConfig}, &created, &rv.at, &rv.by, &rv.status, &rv.data, mentionsColumn{&m}, &c.NotifyStatus); err != nil {
		return im.Conversation{}, err
	}
	if msgID.Valid {
		m.AppID, m.ID, m.ConvID, m.CreatedAt = appID, msgID.Int64, c.ConvID, fromMillis(created)
		m.Revoke = rv.revocation()
		c.LastMsg = &m
	}
	return c, nil
}

// MarkRead moves the user's read position in the conversation to seq (to
// the last message when seq is 0) and returns the unread count left: the
// messages of others after the read position. The position never moves back
// and never beyond the last message, so that messages still to come count
// as unread. im.ErrNotFound if the user has no such conversation.
func (s *Store) MarkRead(ctx context.Context, appID, userID, convID string, seq int64) (_ int64, err error) {
	const op = "store: mark read"
	if seq < 0 {
		return 0, fmt.Errorf("%s: negative seq %d", op, seq)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, ctxErr(ctx, op, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the error that made us roll back is the one to report
		}
	}()
	if err := s.lockConversation(ctx, tx, appID, convID); err != nil {
		return 0, ctxErr(ctx, op, err)
	}
	var last, read int64
	if err := tx.QueryRowContext(ctx, qReadState, appID, userID, convID).Scan(&last, &read); err != nil {
		return 0, ctxErr(ctx, op, err)
	}
	target := last
	if seq != 0 && seq < last {
		target = seq
	}
	read = max(read, target)
	// Counted rather than derived from the stored count so that the stored
	// count is corrected, should it ever drift.
	var unread int64
	if err := tx.QueryRowContext(ctx, qUnreadAfter, appID, convID, read, userID).Scan(&unread); err != nil {
		return 0, ctxErr(ctx, op, err)
	}
	if _, err := tx.ExecContext(ctx, qSetRead, appID, userID, convID, read, unread); err != nil {
		return 0, ctxErr(ctx, op, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, ctxErr(ctx, op+": commit", err)
	}
	return unread, nil
}

// Pending returns the user's conversations whose last seq is above the
// device's cursor (0 without one), ordered by conversation ID.
func (s *Store) Pending(ctx context.Context, appID, userID, deviceID string) ([]im.Pending, error) {
	const op = "store: pending"
	rows, err := s.rPending.QueryContext(ctx, appID, userID, deviceID)
	if err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	defer rows.Close()
	var ps []im.Pending
	for rows.Next() {
		var p im.Pending
		if err := rows.Scan(&p.ConvID, &p.ConvType, &p.PeerID, &p.Cursor, &p.LastSeq); err != nil {
			return nil, ctxErr(ctx, op, err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	gs, err := s.groupPending(ctx, appID, userID, deviceID)
	if err != nil {
		return nil, ctxErr(ctx, op+": groups", err)
	}
	return append(ps, gs...), nil
}

// UserCursor implements im.Store.
func (s *Store) UserCursor(ctx context.Context, appID, userID, convID string) (int64, error) {
	var seq int64
	if err := s.r.QueryRowContext(ctx, qUserCursor, appID, userID, convID).Scan(&seq); err != nil {
		return 0, ctxErr(ctx, "store: user cursor", err)
	}
	return seq, nil
}

// SaveCursors stores delivery positions in one transaction; a position
// never moves back. A cursor of an unknown app fails the whole call with
// im.ErrNotFound.
func (s *Store) SaveCursors(ctx context.Context, cs []im.Cursor) error {
	if len(cs) == 0 {
		return nil
	}
	// In key order: on PostgreSQL two nodes may flush positions of the
	// same rows at once (a device that moved to another node while its
	// acks were still queued here), and rows locked in one order cannot
	// deadlock. Each update only moves a position forward (qSaveCursor),
	// so the writes of two nodes commute.
	sorted := slices.Clone(cs)
	slices.SortFunc(sorted, func(a, b im.Cursor) int {
		return cmp.Or(cmp.Compare(a.AppID, b.AppID), cmp.Compare(a.UserID, b.UserID),
			cmp.Compare(a.DeviceID, b.DeviceID), cmp.Compare(a.ConvID, b.ConvID))
	})
	return s.inTx(ctx, "store: save cursors", func(tx *sql.Tx) error {
		stmt := tx.StmtContext(ctx, s.wSaveCursor)
		for _, c := range sorted {
			if _, err := stmt.ExecContext(ctx, c.AppID, c.UserID, c.DeviceID, c.ConvID, c.Seq); err != nil {
				return err
			}
		}
		return nil
	})
}
