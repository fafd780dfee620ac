package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/heraldim/herald/internal/webhook"
)

var _ webhook.Store = (*Store)(nil)

const webhookColumns = `app_id, url, secret, events, enabled, before_send_url, before_send_timeout, before_send_fail_open, updated_at`

const (
	qPutWebhook = `INSERT INTO webhooks (` + webhookColumns + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (app_id) DO UPDATE SET
	url = excluded.url, secret = excluded.secret, events = excluded.events, enabled = excluded.enabled,
	before_send_url = excluded.before_send_url, before_send_timeout = excluded.before_send_timeout,
	before_send_fail_open = excluded.before_send_fail_open, updated_at = excluded.updated_at`
	qWebhooks        = `SELECT ` + webhookColumns + ` FROM webhooks ORDER BY app_id`
	qDelWebhook      = `DELETE FROM webhooks WHERE app_id = $1`
	qDelWebhookQueue = `DELETE FROM webhook_outbox WHERE app_id = $1 AND status = 'pending'`

	// qInsertWebhookMessage is a message.sent row, written with its message.
	qInsertWebhookMessage = `INSERT INTO webhook_outbox (app_id, event, message_id, created_at, next_at) VALUES ($1, 'message.sent', $2, $3, $3)`
	qInsertWebhookEvent   = `INSERT INTO webhook_outbox (app_id, event, payload, created_at, next_at) VALUES ($1, $2, $3, $4, $4)`

	outboxColumns = `o.id, o.app_id, o.event, o.payload, COALESCE(o.message_id, 0), o.created_at, o.status, o.attempts, o.next_at,
	o.last_status, o.last_error, o.done_at,
	m.id, m.conv_id, m.conv_type, m.seq, m.sender, m.recipient, m.type, m.sub_type, m.text, m.data, m.searched_content,
	m.extended_data, m.priority, m.local_id, m.created_at`
	outboxFrom = ` FROM webhook_outbox o LEFT JOIN messages m ON m.id = o.message_id`

	// qDueWebhookEvents is completed by DueEvents with the apps to skip
	// and the order.
	qDueWebhookEvents = `SELECT ` + outboxColumns + outboxFrom + `
WHERE o.status = 'pending' AND o.next_at <= $1`
	qNextWebhookDue   = `SELECT COALESCE(MIN(next_at), 0) FROM webhook_outbox WHERE status = 'pending'`
	qFinishWebhook    = `UPDATE webhook_outbox SET status = $2, attempts = $3, next_at = $4, last_status = $5, last_error = $6, done_at = $7 WHERE id = $1`
	qRecentWebhooks   = `SELECT ` + outboxColumns + outboxFrom + ` WHERE o.app_id = $1 AND ($2 = '' OR o.status = $2) ORDER BY o.id DESC LIMIT $3`
	qWebhookCounts    = `SELECT status, COUNT(*) FROM webhook_outbox WHERE app_id = $1 GROUP BY status`
	qPendingWebhooks  = `SELECT COUNT(*) FROM webhook_outbox WHERE status = 'pending'`
	qTrimWebhookEvent = `DELETE FROM webhook_outbox WHERE status = 'delivered' AND done_at < $1`
)

// PutWebhook implements webhook.Store; the secret goes through sealSecret.
func (s *Store) PutWebhook(ctx context.Context, c webhook.Config) error {
	sealed, err := s.sealSecret(colWebhookSecret, c.AppID, c.Secret)
	if err != nil {
		return fmt.Errorf("sqlite: put webhook: %w", err)
	}
	_, err = s.w.ExecContext(ctx, qPutWebhook, c.AppID, c.URL, sealed, strings.Join(c.Events, ","), c.Enabled,
		c.BeforeSendURL, c.BeforeSendTimeout.Milliseconds(), c.FailOpen, c.UpdatedAt.UnixMilli())
	return ctxErr(ctx, "sqlite: put webhook", err)
}

// Webhooks implements webhook.Store.
func (s *Store) Webhooks(ctx context.Context) ([]webhook.Config, error) {
	const op = "sqlite: webhooks"
	rows, err := s.r.QueryContext(ctx, qWebhooks)
	if err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	defer rows.Close()
	var out []webhook.Config
	for rows.Next() {
		var c webhook.Config
		var events string
		var timeout, updated int64
		if err := rows.Scan(&c.AppID, &c.URL, &c.Secret, &events, &c.Enabled, &c.BeforeSendURL, &timeout, &c.FailOpen, &updated); err != nil {
			return nil, mapErr(op, err)
		}
		if c.Secret, err = s.openSecret(colWebhookSecret, c.AppID, c.Secret); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		for _, e := range strings.Split(events, ",") {
			if e != "" {
				c.Events = append(c.Events, e)
			}
		}
		c.BeforeSendTimeout = time.Duration(timeout) * time.Millisecond
		c.UpdatedAt = fromMillis(updated)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// DeleteWebhook implements webhook.Store.
func (s *Store) DeleteWebhook(ctx context.Context, appID string) error {
	const op = "sqlite: delete webhook"
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, qDelWebhook, appID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return webhook.ErrNotFound
		}
		_, err = tx.ExecContext(ctx, qDelWebhookQueue, appID)
		return err
	})
}

// EnqueueEvents implements webhook.Store.
func (s *Store) EnqueueEvents(ctx context.Context, evs []webhook.NewEvent) ([]int64, error) {
	const op = "sqlite: enqueue webhook events"
	ids := make([]int64, 0, len(evs))
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, qInsertWebhookEvent)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range evs {
			res, err := stmt.ExecContext(ctx, e.AppID, e.Event, e.Payload, e.CreatedAt.UnixMilli())
			if err != nil {
				return err
			}
			id, err := res.LastInsertId()
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

func scanOutbox(rows *sql.Rows) (webhook.Row, error) {
	var r webhook.Row
	var created, next, done int64
	var mID, mConvType, mSeq, mType, mSub, mPrio, mCreated sql.NullInt64
	var mConv, mSender, mRecip, mText, mSearched, mExt, mLocal sql.NullString
	var mData []byte
	err := rows.Scan(&r.ID, &r.AppID, &r.Event, &r.Payload, &r.MessageID, &created, &r.Status, &r.Attempts, &next,
		&r.LastStatus, &r.LastError, &done,
		&mID, &mConv, &mConvType, &mSeq, &mSender, &mRecip, &mType, &mSub, &mText, &mData, &mSearched, &mExt, &mPrio, &mLocal, &mCreated)
	if err != nil {
		return r, err
	}
	r.CreatedAt, r.NextAt = fromMillis(created), fromMillis(next)
	if done != 0 {
		r.DoneAt = fromMillis(done)
	}
	if mID.Valid {
		m := &webhook.Message{ID: mID.Int64, ConversationType: int(mConvType.Int64), Seq: mSeq.Int64,
			Sender: mSender.String, Recipient: mRecip.String, Type: int(mType.Int64), SubType: int(mSub.Int64), Text: mText.String,
			Data: mData, SearchedContent: mSearched.String, ExtendedData: mExt.String, Priority: int(mPrio.Int64),
			LocalID: mLocal.String, Timestamp: mCreated.Int64}
		// The group's ID for a group; the recipient's for a peer message
		// (the conversation seen from the sender).
		m.ConversationID = m.Recipient
		r.Message = m
	}
	return r, nil
}

func (s *Store) outboxRows(ctx context.Context, op, q string, args ...any) ([]webhook.Row, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	defer rows.Close()
	var out []webhook.Row
	for rows.Next() {
		r, err := scanOutbox(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// DueEvents implements webhook.Store.
func (s *Store) DueEvents(ctx context.Context, now time.Time, limit int, skipApps []string) ([]webhook.Row, error) {
	q := qDueWebhookEvents
	args := []any{now.UnixMilli(), limit}
	if len(skipApps) > 0 {
		ph := make([]string, len(skipApps))
		for i, a := range skipApps {
			ph[i] = "$" + strconv.Itoa(i+3)
			args = append(args, a)
		}
		q += ` AND o.app_id NOT IN (` + strings.Join(ph, ", ") + `)`
	}
	q += ` ORDER BY o.next_at, o.id LIMIT $2`
	return s.outboxRows(ctx, "sqlite: due webhook events", q, args...)
}

// NextDue implements webhook.Store.
func (s *Store) NextDue(ctx context.Context) (time.Time, error) {
	var at int64
	if err := s.r.QueryRowContext(ctx, qNextWebhookDue).Scan(&at); err != nil {
		return time.Time{}, ctxErr(ctx, "sqlite: next webhook due", err)
	}
	if at == 0 {
		return time.Time{}, nil
	}
	return fromMillis(at), nil
}

// FinishEvents implements webhook.Store.
func (s *Store) FinishEvents(ctx context.Context, outs []webhook.Outcome) error {
	if len(outs) == 0 {
		return nil
	}
	return s.inTx(ctx, "sqlite: finish webhook events", func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, qFinishWebhook)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, o := range outs {
			var next, done int64
			if !o.NextAt.IsZero() {
				next = o.NextAt.UnixMilli()
			}
			if !o.DoneAt.IsZero() {
				done = o.DoneAt.UnixMilli()
			}
			if _, err := stmt.ExecContext(ctx, o.ID, o.Status, o.Attempts, next, o.LastStatus, o.LastError, done); err != nil {
				return err
			}
		}
		return nil
	})
}

// RecentEvents implements webhook.Store.
func (s *Store) RecentEvents(ctx context.Context, appID, status string, limit int) ([]webhook.Row, webhook.Counts, error) {
	const op = "sqlite: recent webhook events"
	var n webhook.Counts
	out, err := s.outboxRows(ctx, op, qRecentWebhooks, appID, status, limit)
	if err != nil {
		return nil, n, err
	}
	rows, err := s.r.QueryContext(ctx, qWebhookCounts, appID)
	if err != nil {
		return nil, n, ctxErr(ctx, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var c int
		if err := rows.Scan(&st, &c); err != nil {
			return nil, n, mapErr(op, err)
		}
		switch st {
		case webhook.StatusPending:
			n.Pending = c
		case webhook.StatusDelivered:
			n.Delivered = c
		case webhook.StatusDead:
			n.Dead = c
		}
	}
	return out, n, mapErr(op, rows.Err())
}

// PendingEvents implements webhook.Store.
func (s *Store) PendingEvents(ctx context.Context) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, qPendingWebhooks).Scan(&n)
	return n, ctxErr(ctx, "sqlite: pending webhook events", err)
}

// TrimEvents deletes delivered rows finished before t.
func (s *Store) TrimEvents(ctx context.Context, before time.Time) error {
	_, err := s.w.ExecContext(ctx, qTrimWebhookEvent, before.UnixMilli())
	return ctxErr(ctx, "sqlite: trim webhook events", err)
}
