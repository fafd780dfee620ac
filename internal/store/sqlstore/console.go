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

// The console's overview queries (migration 16). Each reads only the
// app's own rows through an index: TestConsoleQueryPlans.
const (
	// qPushQueue counts the app's open jobs by vendor and status through
	// push_jobs_app_open: its cost is the app's open jobs.
	qPushQueue = `SELECT vendor, status, COUNT(*) FROM push_jobs
WHERE app_id = $1 AND status IN ('pending', 'held') GROUP BY vendor, status`

	// qPushAttemptOutcomes counts the app's vendor attempts since $2 (and
	// since $3, within) by vendor and outcome: the jobs changed since $2
	// through push_jobs_app_updated, then their attempts by primary key.
	qPushAttemptOutcomes = `SELECT j.vendor, a.outcome, COUNT(*), COALESCE(SUM(CASE WHEN a.at >= $3 THEN 1 ELSE 0 END), 0)
FROM push_jobs j JOIN push_attempts a ON a.job_id = j.id
WHERE j.app_id = $1 AND j.updated_at >= $2 AND a.at >= $2
GROUP BY j.vendor, a.outcome`

	// qPushJobOutcomes counts the app's jobs that ended since $2 (and
	// since $3) by vendor and status, through push_jobs_app_updated.
	qPushJobOutcomes = `SELECT vendor, status, COUNT(*), COALESCE(SUM(CASE WHEN updated_at >= $3 THEN 1 ELSE 0 END), 0)
FROM push_jobs WHERE app_id = $1 AND updated_at >= $2 AND status NOT IN ('pending', 'held')
GROUP BY vendor, status`
)

// PushQueue returns the app's open push jobs by vendor and status.
func (s *Store) PushQueue(ctx context.Context, appID string) ([]push.QueueCount, error) {
	rows, err := s.r.QueryContext(ctx, qPushQueue, appID)
	if err != nil {
		return nil, mapErr("store: push queue", err)
	}
	defer rows.Close()
	var out []push.QueueCount
	for rows.Next() {
		var c push.QueueCount
		var v, st string
		if err := rows.Scan(&v, &st, &c.Jobs); err != nil {
			return nil, mapErr("store: push queue", err)
		}
		c.Vendor, c.Status = push.Vendor(v), push.JobStatus(st)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("store: push queue", err)
	}
	return out, nil
}

// PushOutcomes returns the app's vendor attempts by outcome and its ended
// jobs by status, per vendor, within the hour and the 5 minutes before
// now.
func (s *Store) PushOutcomes(ctx context.Context, appID string, now time.Time) ([]push.OutcomeCount, error) {
	hour, five := now.Add(-time.Hour).UnixMilli(), now.Add(-5*time.Minute).UnixMilli()
	var out []push.OutcomeCount
	for _, q := range []struct{ kind, query string }{{"attempt", qPushAttemptOutcomes}, {"job", qPushJobOutcomes}} {
		rows, err := s.r.QueryContext(ctx, q.query, appID, hour, five)
		if err != nil {
			return nil, mapErr("store: push outcomes", err)
		}
		for rows.Next() {
			c := push.OutcomeCount{Kind: q.kind}
			var v string
			if err := rows.Scan(&v, &c.Outcome, &c.Last1h, &c.Last5m); err != nil {
				rows.Close()
				return nil, mapErr("store: push outcomes", err)
			}
			c.Vendor = push.Vendor(v)
			out = append(out, c)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, mapErr("store: push outcomes", err)
		}
	}
	return out, nil
}

// The push explanation's reads, each by primary key.
const (
	qExplainMessage = `SELECT ` + msgColumns + ` FROM messages WHERE id = $1 AND app_id = $2`

	qGroupMember = `SELECT joined_seq FROM group_members WHERE app_id = $1 AND group_id = $2 AND user_id = $3`

	qGroupFanout = `SELECT after_user FROM group_fanouts WHERE message_id = $1 AND app_id = $2`
)

// MessageByID returns one stored message of the app; im.ErrNotFound if
// there is none.
func (s *Store) MessageByID(ctx context.Context, appID string, id int64) (im.Message, error) {
	m := im.Message{AppID: appID}
	var created int64
	err := s.r.QueryRowContext(ctx, qExplainMessage, id, appID).Scan(&m.ID, &m.ConvID, &m.ConvType, &m.Seq, &m.Sender,
		&m.Recipient, &m.Type, &m.SubType, &m.Text, &m.Data, &m.SearchedContent, &m.ExtendedData,
		&m.Priority, &m.LocalID, &m.ContentHash, contentColumn{&m.PushConfig}, &created, mentionsColumn{&m})
	if errors.Is(err, sql.ErrNoRows) {
		return im.Message{}, fmt.Errorf("store: message: %w", im.ErrNotFound)
	}
	if err != nil {
		return im.Message{}, mapErr("store: message", err)
	}
	m.CreatedAt = fromMillis(created)
	return m, nil
}

// GroupMembership says whether the user is a member of the group now, and
// from which of its messages (the group's seq when the user joined).
func (s *Store) GroupMembership(ctx context.Context, appID, groupID, userID string) (joinedSeq int64, member bool, err error) {
	err = s.r.QueryRowContext(ctx, qGroupMember, appID, groupID, userID).Scan(&joinedSeq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, mapErr("store: group membership", err)
	}
	return joinedSeq, true, nil
}

// GroupFanoutState says whether a group message's push is still being
// planned, and up to which member (by user ID) it got.
func (s *Store) GroupFanoutState(ctx context.Context, appID string, messageID int64) (afterUser string, inProgress bool, err error) {
	err = s.r.QueryRowContext(ctx, qGroupFanout, messageID, appID).Scan(&afterUser)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, mapErr("store: group fanout", err)
	}
	return afterUser, true, nil
}
