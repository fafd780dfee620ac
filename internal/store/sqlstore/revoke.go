package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
)

var _ im.RevokeStore = (*Store)(nil)

// Message revoke (im.RevokeStore). The message's row keeps its place and
// loses its body; its push jobs not yet sent are dropped; its withdraw is
// planned to the devices its push may have reached. One transaction.

// revokedReason is the reason of the push jobs a revoke dropped; the
// withdraw's planning finds the in-flight ones by it.
const revokedReason = "message revoked"

const (
	// qRevokeMessage makes a message a revoke marker; a message revoked
	// before is left alone (no row).
	qRevokeMessage = `UPDATE messages SET text = $3, data = NULL, searched_content = '', push_config = NULL, mentions = NULL,
	revoked_at = $4, revoked_by = $5, revoke_status = $6, revoke_data = $7
WHERE app_id = $1 AND id = $2 AND revoked_at = 0`

	qMessageExists = `SELECT 1 FROM messages WHERE app_id = $1 AND id = $2`

	// qDropRevokedJobs drops every pending push of the message, claimed
	// or not. A claimed job's attempt may be with the vendor now: its
	// recorded outcome moves a dropped job only to delivered (qFinishJob),
	// never back to pending, so it is never retried; its lease stays
	// until then, which tells the withdraw that it may have been sent.
	qDropRevokedJobs = `UPDATE push_jobs SET status = 'dropped', reason = $3, updated_at = $4
WHERE app_id = $1 AND message_id = $2 AND kind = '' AND status = 'pending'`

	qDropRevokedFanout = `DELETE FROM group_fanouts WHERE message_id = $1 AND app_id = $2`
)

// withdrawMessage plans a message's withdraw (push.SourceMessageWithdraw):
// one job to each eligible device (still bound to the job's user) of a
// push of the message that the vendor took (delivered), or that a
// dispatcher holds claimed and may be sending (dropped by this revoke
// with its lease running): that one not before the lease ends, when the
// attempt is over. A push that failed reached no phone and gets none.
// $1 app, $2 message, $3 push config (or the content, with the message
// push's config: dialect.contentSet), $4 now, $5 expiry, $6 kind, $7
// revokedReason.
const (
	withdrawMessageHead = planJobColumns + `
SELECT d.app_id, r.message_id, d.user_id, d.push_id, d.vendor, `
	withdrawMessageFrom = `, 'pending', 0,
	CASE WHEN r.status = 'delivered' THEN $4 ELSE r.lease_until END, $5, '', $4, $4, $6, ''
FROM push_jobs r JOIN devices d ON d.app_id = r.app_id AND d.push_id = r.push_id
WHERE r.app_id = $1 AND r.message_id = $2 AND r.kind = '' AND d.user_id = r.user_id AND ` + eligibleDevice + `
	AND (r.status = 'delivered' OR (r.status = 'dropped' AND r.reason = $7 AND r.lease_until > $4))
RETURNING id`
)

// planMessageWithdraw writes the jobs of message withdraw in (see
// withdrawMessageHead).
func (p *txPlanner) planMessageWithdraw(ctx context.Context, in push.Intent, now time.Time) ([]int64, error) {
	if in.Source.MessageID == 0 || len(in.Targets.UserIDs)+len(in.Targets.PushIDs) > 0 {
		return nil, errors.New("plan push: a message withdraw names its message and no targets")
	}
	cfgSQL := "$3"
	var cfg any = in.Content.Content
	if in.Replaces.RingConfig {
		// The original's config with the revoked content, marked Remove
		// when the original was a notification (push.Revoker).
		cfgSQL = fmt.Sprintf(p.s.d.contentSet, fmt.Sprintf(p.s.d.removeSet, "r.push_config"), "$3")
	} else {
		b, err := in.StoredConfig()
		if err != nil {
			return nil, err
		}
		cfg = b
	}
	args := []any{in.AppID, in.Source.MessageID, cfg, now.UnixMilli(), millisOrZero(in.ExpiresAt),
		string(in.Source.Kind.JobKind()), revokedReason}
	return p.runQuery(ctx, withdrawMessageHead+cfgSQL+withdrawMessageFrom, args, nil)
}

// RevokeMessage implements im.RevokeStore.
func (s *Store) RevokeMessage(ctx context.Context, r im.Revoke) (im.RevokeResult, error) {
	const op = "store: revoke message"
	var res im.RevokeResult
	now := r.Rev.At
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		res = im.RevokeResult{}
		// A late push of the message planned at the same time (another
		// connection or node) waits for the revoke, then sees it
		// (planOnceMessage); on SQLite the one writer orders them.
		if err := s.lockOnce(ctx, tx, push.Intent{AppID: r.AppID, Source: push.Source{Kind: push.SourceMessage, MessageID: r.MessageID}}); err != nil {
			return err
		}
		rs, err := tx.ExecContext(ctx, qRevokeMessage, r.AppID, r.MessageID, s.d.bodyText(""), now.UnixMilli(),
			r.Rev.By, r.Rev.Status, r.Rev.ExtendedData)
		if err != nil {
			return err
		}
		if n, err := rs.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var one int
			if err := tx.QueryRowContext(ctx, qMessageExists, r.AppID, r.MessageID).Scan(&one); err != nil {
				return err // sql.ErrNoRows: im.ErrNotFound
			}
			return im.ErrConflict
		}
		if rs, err = tx.ExecContext(ctx, qDropRevokedJobs, r.AppID, r.MessageID, revokedReason, now.UnixMilli()); err != nil {
			return err
		}
		n, err := rs.RowsAffected()
		if err != nil {
			return err
		}
		res.Dropped = int(n)
		if _, err := tx.ExecContext(ctx, qDropRevokedFanout, r.MessageID, r.AppID); err != nil {
			return err
		}
		planner := s.planner(tx)
		defer planner.close()
		ids, err := planner.plan(ctx, r.Withdraw, now)
		if err != nil {
			return err
		}
		res.Withdraws = len(ids)
		return nil
	})
	if err != nil {
		return im.RevokeResult{}, err
	}
	return res, nil
}

// revokeCols are a message row's revoke columns as scanned.
type revokeCols struct {
	at     int64
	by     string
	status int
	data   string
}

// revocation is the im form of the columns: nil while not revoked.
func (c revokeCols) revocation() *im.Revocation {
	if c.at == 0 {
		return nil
	}
	return &im.Revocation{At: fromMillis(c.at), By: c.by, Status: c.status, ExtendedData: c.data}
}

// scanMessage reads a row of msgColumns into m (its AppID set by the
// caller).
func scanMessage(sc scanner, m *im.Message) error {
	var created int64
	var rv revokeCols
	if err := sc.Scan(&m.ID, &m.ConvID, &m.ConvType, &m.Seq, &m.Sender, &m.Recipient,
		&m.Type, &m.SubType, &m.Text, &m.Data, &m.SearchedContent, &m.ExtendedData,
		&m.Priority, &m.LocalID, &m.ContentHash, contentColumn{&m.PushConfig}, &created,
		&rv.at, &rv.by, &rv.status, &rv.data, mentionsColumn{m}); err != nil {
		return err
	}
	m.CreatedAt = fromMillis(created)
	m.Revoke = rv.revocation()
	return nil
}
