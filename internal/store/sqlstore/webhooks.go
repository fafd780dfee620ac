package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math"
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

	// qInsertWebhookBatch is a commit batch's message.sent row for one app,
	// written with its messages: their IDs (webhook.EncodeIDs) and count.
	qInsertWebhookBatch = `INSERT INTO webhook_outbox (app_id, event, payload, size, created_at, next_at) VALUES ($1, 'message.sent', $2, $3, $4, $4)`
	// qSplitWebhook gives a batch's message its own row, created with the
	// batch; qAdvanceWebhook records the batch's progress (a new first
	// undone message starts with no attempts).
	qSplitWebhook = `INSERT INTO webhook_outbox (app_id, event, message_id, batch_id, created_at, status, attempts, next_at, last_status, last_error, done_at)
SELECT app_id, 'message.sent', $2, id, created_at, $3, $4, $5, $6, $7, $8 FROM webhook_outbox WHERE id = $1`
	qAdvanceWebhook = `UPDATE webhook_outbox SET splits = splits + $3,
	attempts = CASE WHEN progress = $2 THEN attempts ELSE 0 END, last_error = CASE WHEN progress = $2 THEN last_error ELSE '' END,
	progress = $2 WHERE id = $1 AND status = 'pending'`
	qBatchSplits        = `SELECT batch_id, message_id FROM webhook_outbox WHERE batch_id IN `
	qInsertWebhookEvent = `INSERT INTO webhook_outbox (app_id, event, payload, created_at, next_at) VALUES ($1, $2, $3, $4, $4) RETURNING id`

	outboxColumns = `o.id, o.app_id, o.event, o.payload, COALESCE(o.message_id, 0), o.created_at, o.status, o.attempts, o.next_at,
	o.last_status, o.last_error, o.done_at, o.size, o.progress, o.splits, COALESCE(o.batch_id, 0),
	` + messageColumns
	messageColumns = `m.id, m.conv_id, m.conv_type, m.seq, m.sender, m.recipient, m.type, m.sub_type, m.text, m.data, m.searched_content,
	m.extended_data, m.priority, m.local_id, m.created_at`
	outboxFrom = ` FROM webhook_outbox o LEFT JOIN messages m ON m.id = o.message_id`

	// qDueWebhookEvents is completed by DueEvents with the apps to skip
	// and the order.
	qDueWebhookEvents = `SELECT ` + outboxColumns + outboxFrom + `
WHERE o.status = 'pending' AND o.next_at <= $1`
	qNextWebhookDue = `SELECT COALESCE(MIN(next_at), 0) FROM webhook_outbox WHERE status = 'pending'`
	qFinishWebhook  = `UPDATE webhook_outbox SET status = $2, attempts = $3, next_at = $4, last_status = $5, last_error = $6, done_at = $7,
	progress = CASE WHEN size > 0 THEN $8 ELSE progress END WHERE id = $1`
	// qRecentWebhooks reads every batch row whatever the status asked
	// for: its messages may have any.
	qRecentWebhooks = `SELECT ` + outboxColumns + outboxFrom + ` WHERE o.app_id = $1 AND ($2 = '' OR o.status = $2 OR o.size > 0) AND o.id < $4
ORDER BY o.id DESC LIMIT $3`
	qEventMessages = `SELECT ` + messageColumns + ` FROM messages m WHERE m.id IN `
	// Events by status: a batch row counts its undone messages under its
	// status and its delivered ones (done, not split off) as delivered.
	qWebhookCounts = `SELECT status, SUM(CASE WHEN size = 0 THEN 1 ELSE size - progress END), SUM(CASE WHEN size = 0 THEN 0 ELSE progress - splits END)
FROM webhook_outbox WHERE app_id = $1 GROUP BY status`
	qPendingWebhooks  = `SELECT COALESCE(SUM(CASE WHEN size = 0 THEN 1 ELSE size - progress END), 0) FROM webhook_outbox WHERE status = 'pending'`
	qTrimWebhookEvent = `DELETE FROM webhook_outbox WHERE status = 'delivered' AND done_at < $1`
)

// PutWebhook implements webhook.Store; the secret goes through sealSecret.
func (s *Store) PutWebhook(ctx context.Context, c webhook.Config) error {
	sealed, err := s.sealSecret(colWebhookSecret, c.AppID, c.Secret)
	if err != nil {
		return fmt.Errorf("store: put webhook: %w", err)
	}
	_, err = s.w.ExecContext(ctx, qPutWebhook, c.AppID, c.URL, sealed, strings.Join(c.Events, ","), boolInt(c.Enabled),
		c.BeforeSendURL, c.BeforeSendTimeout.Milliseconds(), boolInt(c.FailOpen), c.UpdatedAt.UnixMilli())
	return ctxErr(ctx, "store: put webhook", err)
}

// Webhooks implements webhook.Store.
func (s *Store) Webhooks(ctx context.Context) ([]webhook.Config, error) {
	const op = "store: webhooks"
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
	const op = "store: delete webhook"
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
	const op = "store: enqueue webhook events"
	ids := make([]int64, 0, len(evs))
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, qInsertWebhookEvent)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range evs {
			// RETURNING, not LastInsertId: PostgreSQL's driver has no
			// last insert ID.
			var id int64
			if err := stmt.QueryRowContext(ctx, e.AppID, e.Event, e.Payload, e.CreatedAt.UnixMilli()).Scan(&id); err != nil {
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

// msgScan receives messageColumns, NULL when the message is gone.
type msgScan struct {
	id, convType, seq, typ, sub, prio, created      sql.NullInt64
	conv, sender, recip, text, searched, ext, local sql.NullString
	data                                            []byte
}

func (x *msgScan) dest() []any {
	return []any{&x.id, &x.conv, &x.convType, &x.seq, &x.sender, &x.recip, &x.typ, &x.sub, &x.text, &x.data, &x.searched, &x.ext,
		&x.prio, &x.local, &x.created}
}

func (x *msgScan) message() *webhook.Message {
	if !x.id.Valid {
		return nil
	}
	m := &webhook.Message{ID: x.id.Int64, ConversationType: int(x.convType.Int64), Seq: x.seq.Int64,
		Sender: x.sender.String, Recipient: x.recip.String, Type: int(x.typ.Int64), SubType: int(x.sub.Int64), Text: x.text.String,
		Data: x.data, SearchedContent: x.searched.String, ExtendedData: x.ext.String, Priority: int(x.prio.Int64),
		LocalID: x.local.String, Timestamp: x.created.Int64}
	// The group's ID for a group; the recipient's for a peer message
	// (the conversation seen from the sender).
	m.ConversationID = m.Recipient
	return m
}

func scanOutbox(rows *sql.Rows) (webhook.Row, error) {
	var r webhook.Row
	var created, next, done int64
	var m msgScan
	err := rows.Scan(append([]any{&r.ID, &r.AppID, &r.Event, &r.Payload, &r.MessageID, &created, &r.Status, &r.Attempts, &next,
		&r.LastStatus, &r.LastError, &done, &r.Size, &r.Progress, &r.Splits, &r.BatchID}, m.dest()...)...)
	if err != nil {
		return r, err
	}
	r.CreatedAt, r.NextAt = fromMillis(created), fromMillis(next)
	if done != 0 {
		r.DoneAt = fromMillis(done)
	}
	r.Message = m.message()
	return r, nil
}

// placeholders returns "($from, ..., $from+n-1)".
func placeholders(from, n int) string {
	ph := make([]string, n)
	for i := range ph {
		ph[i] = "$" + strconv.Itoa(from+i)
	}
	return "(" + strings.Join(ph, ", ") + ")"
}

// EventMessages implements webhook.Store.
func (s *Store) EventMessages(ctx context.Context, ids []int64) (map[int64]*webhook.Message, error) {
	const op = "store: webhook event messages"
	out := make(map[int64]*webhook.Message, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := s.r.QueryContext(ctx, qEventMessages+placeholders(1, len(chunk)), args...)
		if err != nil {
			return nil, ctxErr(ctx, op, err)
		}
		for rows.Next() {
			var m msgScan
			if err := rows.Scan(m.dest()...); err != nil {
				rows.Close()
				return nil, mapErr(op, err)
			}
			msg := m.message()
			out[msg.ID] = msg
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, mapErr(op, err)
		}
	}
	return out, nil
}

// AdvanceBatch implements webhook.Store.
func (s *Store) AdvanceBatch(ctx context.Context, id int64, progress int, splits []webhook.Split) error {
	return s.inTx(ctx, "store: advance webhook batch", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, qAdvanceWebhook, id, progress, len(splits))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // n == 0: no longer pending, nothing to split
		}
		for _, sp := range splits {
			var next, done int64
			if !sp.NextAt.IsZero() {
				next = sp.NextAt.UnixMilli()
			}
			if !sp.DoneAt.IsZero() {
				done = sp.DoneAt.UnixMilli()
			}
			if _, err := tx.ExecContext(ctx, qSplitWebhook, id, sp.MessageID, sp.Status, sp.Attempts, next,
				sp.LastStatus, sp.LastError, done); err != nil {
				return err
			}
		}
		return nil
	})
}

func outboxRows(ctx context.Context, db querier, op, q string, args ...any) ([]webhook.Row, error) {
	rows, err := db.QueryContext(ctx, q, args...)
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
		for _, a := range skipApps {
			args = append(args, a)
		}
		q += ` AND o.app_id NOT IN ` + placeholders(3, len(skipApps))
	}
	q += ` ORDER BY o.next_at, o.id LIMIT $2`
	return outboxRows(ctx, s.r, "store: due webhook events", q, args...)
}

// NextDue implements webhook.Store.
func (s *Store) NextDue(ctx context.Context) (time.Time, error) {
	var at int64
	if err := s.r.QueryRowContext(ctx, qNextWebhookDue).Scan(&at); err != nil {
		return time.Time{}, ctxErr(ctx, "store: next webhook due", err)
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
	return s.inTx(ctx, "store: finish webhook events", func(tx *sql.Tx) error {
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
			if _, err := stmt.ExecContext(ctx, o.ID, o.Status, o.Attempts, next, o.LastStatus, o.LastError, done, o.Progress); err != nil {
				return err
			}
		}
		return nil
	})
}

// RecentEvents implements webhook.Store: rows newest first, a batch row
// expanded into its messages (last first) but for those split off, which
// have their own rows.
// The reads share one transaction: the entries and the counts are of the
// same moment.
func (s *Store) RecentEvents(ctx context.Context, appID, status string, limit int) ([]webhook.Row, webhook.Counts, error) {
	const op = "store: recent webhook events"
	var n webhook.Counts
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, n, ctxErr(ctx, op, err)
	}
	defer func() { _ = tx.Rollback() }()
	out := make([]webhook.Row, 0, limit)
	before := int64(math.MaxInt64)
	for len(out) < limit {
		rows, err := outboxRows(ctx, tx, op, qRecentWebhooks, appID, status, limit, before)
		if err != nil {
			return nil, n, err
		}
		split, err := batchSplits(ctx, tx, rows)
		if err != nil {
			return nil, n, err
		}
		for _, r := range rows {
			if r.Size == 0 {
				if status == "" || r.Status == status {
					out = append(out, r)
				}
				continue
			}
			out = appendBatch(out, r, split, status)
		}
		if len(rows) < limit {
			break
		}
		before = rows[len(rows)-1].ID
	}
	out = out[:min(len(out), limit)]

	rows, err := tx.QueryContext(ctx, qWebhookCounts, appID)
	if err != nil {
		return nil, n, ctxErr(ctx, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var c, delivered int
		if err := rows.Scan(&st, &c, &delivered); err != nil {
			return nil, n, mapErr(op, err)
		}
		n.Delivered += delivered
		switch st {
		case webhook.StatusPending:
			n.Pending += c
		case webhook.StatusDelivered:
			n.Delivered += c
		case webhook.StatusDead:
			n.Dead += c
		}
	}
	return out, n, mapErr(op, rows.Err())
}

// batchSplits returns the split-off message IDs of the batch rows among
// rows.
func batchSplits(ctx context.Context, db querier, rows []webhook.Row) (map[int64]bool, error) {
	const op = "store: webhook batch splits"
	var args []any
	for _, r := range rows {
		if r.Size > 0 && r.Splits > 0 {
			args = append(args, r.ID)
		}
	}
	split := map[int64]bool{}
	if len(args) == 0 {
		return split, nil
	}
	q, err := db.QueryContext(ctx, qBatchSplits+placeholders(1, len(args)), args...)
	if err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	defer q.Close()
	for q.Next() {
		var batch, msg int64
		if err := q.Scan(&batch, &msg); err != nil {
			return nil, mapErr(op, err)
		}
		split[msg] = true
	}
	return split, mapErr(op, q.Err())
}

// appendBatch appends batch row r's messages, last first, as the listing
// shows them: done ones delivered (at the first attempt: one that needed
// more was split off), the first undone one with the row's attempts and
// last error, the later ones not tried yet (or dead with the batch).
func appendBatch(out []webhook.Row, r webhook.Row, split map[int64]bool, status string) []webhook.Row {
	ids, err := webhook.DecodeIDs(r.Payload)
	if err != nil {
		return out
	}
	for k := len(ids) - 1; k >= 0; k-- {
		if split[ids[k]] {
			continue
		}
		e := webhook.Row{ID: r.ID, AppID: r.AppID, Event: r.Event, MessageID: ids[k], BatchID: r.ID, CreatedAt: r.CreatedAt}
		switch {
		case k < r.Progress:
			e.Status, e.Attempts = webhook.StatusDelivered, 1
			if r.Status == webhook.StatusDelivered {
				e.LastStatus, e.DoneAt = r.LastStatus, r.DoneAt
			}
		case k == r.Progress:
			e.Status, e.Attempts, e.NextAt, e.LastStatus, e.LastError, e.DoneAt = r.Status, r.Attempts, r.NextAt, r.LastStatus, r.LastError, r.DoneAt
		default:
			e.Status, e.NextAt, e.DoneAt = r.Status, r.NextAt, r.DoneAt
			if r.Status == webhook.StatusDead {
				e.LastError = "given up with its batch: " + r.LastError
			}
		}
		if status == "" || e.Status == status {
			out = append(out, e)
		}
	}
	return out
}

// PendingEvents implements webhook.Store.
func (s *Store) PendingEvents(ctx context.Context) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, qPendingWebhooks).Scan(&n)
	return n, ctxErr(ctx, "store: pending webhook events", err)
}

// TrimEvents deletes delivered rows finished before t.
func (s *Store) TrimEvents(ctx context.Context, before time.Time) error {
	_, err := s.w.ExecContext(ctx, qTrimWebhookEvent, before.UnixMilli())
	return ctxErr(ctx, "store: trim webhook events", err)
}
