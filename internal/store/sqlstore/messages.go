package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/webhook"
)

// convTypePeer is protocol.ConversationPeer: the conversation type whose
// messages update both participants' conversation rows.
const convTypePeer = 0

// convTypeGroup is protocol.ConversationGroup: its messages update the
// group's row and the sender's read position, never per-member rows.
const convTypeGroup = 2

// groupUpdate is the coalesced change a batch makes to one group.
type groupUpdate struct {
	app, group string
	lastSeq    int64
	lastMsgID  int64
	senders    map[string]int64 // sender -> its last seq in the batch
	// before is the group's last seq before the batch; loud says some of
	// the batch's messages count unread (not all are Message.Quiet).
	before int64
	loud   bool
}

// rowKey names one participant's conversation row.
type rowKey struct {
	app, owner, conv string
}

// rowUpdate is the coalesced change a batch makes to one conversation row:
// the batch's last message replaces the stored one and unread grows by the
// number of the batch's messages from others.
type rowUpdate struct {
	rowKey
	convType  int
	peer      string
	lastSeq   int64
	lastMsgID int64
	unread    int64
}

// messageCols and conversationCols are the parameters per row of the
// multi-row statements qInsertMessages and qUpsertConversations.
const (
	messageCols      = 19
	conversationCols = 8
)

// errLocalIDStored says a message of the batch was not written because its
// sender's local ID was stored before the batch: the batch is rolled back
// and run again with each local ID looked up first.
var errLocalIDStored = errors.New("a local ID of the batch is stored already")

// localKey names a sender's local ID.
type localKey struct {
	app, sender, local string
}

// localRef is the message, of the batch or stored before, that holds a
// local ID: a later message with the same local ID reports it.
type localRef struct {
	res  im.AppendResult
	hash []byte
}

// writtenMsg is a message of the batch that gets a row: msgs[i], its
// creation time in ms and its stored push config.
type writtenMsg struct {
	i       int
	created int64
	cfg     any
}

// AppendMessages stores msgs in one transaction; see im.Store. msgs are not
// modified: the assigned Seq is in the results.
//
// Seqs come from the in-memory cache of each conversation's last seq (loaded
// with MAX(seq) on a miss). The batch's allocations live in a local map and
// reach the cache only after the commit, so a failed batch leaves the cache
// as it was. Its conversations are even forgotten, to be read again from the
// database: a failed commit may still have reached the disk.
//
// Message rows are written with multi-row INSERTs (multirow.go). A local ID
// used twice within the batch is resolved in memory; one stored before the
// batch (a client resending after a lost reply, rare) makes the INSERT
// write fewer rows than it got, and then the batch is rolled back and run
// once more looking every local ID up before it takes a seq.
//
// Conversation rows are written once per participant and conversation per
// batch, not per message: a batch of hundreds of messages between two users
// costs two row updates, and all of a batch's rows go in multi-row upserts.
func (s *Store) AppendMessages(ctx context.Context, msgs []*im.Message) ([]im.AppendResult, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	for i, m := range msgs {
		if err := checkMessage(m); err != nil {
			return nil, fmt.Errorf("store: append: message %d: %w", i, err)
		}
	}

	select {
	case s.writeSem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("store: append: %w", ctx.Err())
	}
	defer func() { <-s.writeSem }()

	var seqs map[convKey]int64 // last seq per conversation, this batch included
	var results []im.AppendResult
	var err error
	lookUp := false
	for attempt := 1; ; attempt++ {
		seqs = make(map[convKey]int64)
		results, err = s.appendTx(ctx, msgs, seqs, lookUp)
		if errors.Is(err, errLocalIDStored) {
			if !lookUp {
				// Rolled back, nothing written: the seqs taken are free
				// again. Once more, looking each local ID up first.
				lookUp = true
				attempt--
				continue
			}
			// Only another writer storing the same local ID since the
			// lookup can get here; a retry finds its message.
			err = fmt.Errorf("store: append: %w: %w", im.ErrBusy, err)
			break
		}
		if err == nil || !retryable(err) || attempt == retryAttempts {
			break
		}
	}
	s.health.note(err, time.Now())
	if err != nil {
		for k := range seqs {
			s.seqs.forget(k)
		}
		return nil, err
	}
	for k, v := range seqs {
		s.seqs.put(k, v)
	}
	return results, nil
}

// webhookBatch is an app's messages of one commit with a message.sent event.
type webhookBatch struct {
	app     string
	created int64
	ids     []int64
}

// appendTx runs AppendMessages' transaction, recording in seqs the last seq
// of every conversation it touched. lookUp looks each local ID up before
// the message takes a seq; without it a local ID stored before the batch
// fails the transaction with errLocalIDStored.
func (s *Store) appendTx(ctx context.Context, msgs []*im.Message, seqs map[convKey]int64, lookUp bool) (_ []im.AppendResult, err error) {
	const op = "store: append"
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the error that made us roll back is the one to report
		}
	}()
	if err := s.lockConversations(ctx, tx, msgs); err != nil {
		return nil, ctxErr(ctx, op+": lock conversations", err)
	}
	lastSeq := tx.StmtContext(ctx, s.wLastSeq)
	var byLocalID *sql.Stmt
	if lookUp {
		byLocalID = tx.StmtContext(ctx, s.wMessageByLocalID)
	}

	// The message rows: a seq for each message that gets one, in batch
	// order, and one multi-row INSERT per chunk.
	results := make([]im.AppendResult, len(msgs))
	written := make([]writtenMsg, 0, len(msgs))
	args := make([]any, 0, len(msgs)*messageCols)
	var locals map[localKey]localRef
	for i, m := range msgs {
		var lk localKey
		if m.LocalID != "" {
			lk = localKey{app: m.AppID, sender: m.Sender, local: m.LocalID}
			ref, ok := locals[lk]
			if !ok && lookUp {
				var storedAt int64
				err := byLocalID.QueryRowContext(ctx, m.AppID, m.Sender, m.LocalID).
					Scan(&ref.res.ID, &ref.res.Seq, &storedAt, &ref.hash)
				switch {
				case err == nil:
					ref.res.CreatedAt = fromMillis(storedAt)
					ok = true
				case !errors.Is(err, sql.ErrNoRows):
					return nil, ctxErr(ctx, op+": duplicate lookup", err)
				}
			}
			if ok {
				// The sender's local ID is stored already, before or
				// earlier in this batch: report that message, write
				// nothing.
				r := ref.res
				r.Duplicate = bytes.Equal(ref.hash, m.ContentHash)
				r.Conflict = !r.Duplicate
				results[i] = r
				continue
			}
		}

		ck := convKey{app: m.AppID, conv: m.ConvID}
		last, ok := seqs[ck]
		if !ok {
			if last, ok = s.seqs.get(ck); !ok {
				if err := lastSeq.QueryRowContext(ctx, m.AppID, m.ConvID).Scan(&last); err != nil {
					return nil, ctxErr(ctx, op+": last seq", err)
				}
			}
			seqs[ck] = last
		}
		seq := last + 1
		seqs[ck] = seq
		created := m.CreatedAt.UnixMilli()

		cfg, err := storedConfig(m.PushConfig)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		args = append(args,
			m.ID, m.AppID, m.ConvID, seq, m.ConvType, m.Sender, m.Recipient,
			m.Type, m.SubType, s.d.bodyText(m.Text), m.Data, m.SearchedContent, m.ExtendedData, m.Priority,
			nullIfEmpty(m.LocalID), m.ContentHash, cfg, created, storedMentions(m))
		results[i] = im.AppendResult{ID: m.ID, Seq: seq, CreatedAt: fromMillis(created)}
		written = append(written, writtenMsg{i: i, created: created, cfg: cfg})
		if m.LocalID != "" {
			if locals == nil {
				locals = make(map[localKey]localRef)
			}
			locals[lk] = localRef{res: results[i], hash: m.ContentHash}
		}
	}
	n, err := s.wInsertMessages.exec(ctx, tx, args)
	if err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	if n != int64(len(written)) {
		return nil, fmt.Errorf("%s: %w", op, errLocalIDStored)
	}
	// The mention lists, before the pushes: planning reads them.
	for _, w := range written {
		if err := writeMentions(ctx, tx, msgs[w.i]); err != nil {
			return nil, ctxErr(ctx, op+": mentions", err)
		}
	}

	// What the written messages change besides their rows.
	planner := s.planner(tx)
	defer planner.close()
	groups := make(map[convKey]*groupUpdate)
	var groupOrder []*groupUpdate
	hooked := make(map[string]*webhookBatch)
	var hookOrder []*webhookBatch
	rows := make(map[rowKey]*rowUpdate)
	var order []*rowUpdate   // rows in first-touched order, for a deterministic write order
	var pushes []timedIntent // the messages' pushes, planned in one go
	touch := func(m *im.Message, seq int64, owner, peer string) {
		k := rowKey{app: m.AppID, owner: owner, conv: m.ConvID}
		r := rows[k]
		if r == nil {
			r = &rowUpdate{rowKey: k, convType: m.ConvType, peer: peer}
			rows[k] = r
			order = append(order, r)
		}
		r.lastSeq, r.lastMsgID = seq, m.ID
		if owner != m.Sender && !m.Quiet {
			r.unread++
		}
	}
	for _, w := range written {
		m, seq, created := msgs[w.i], results[w.i].Seq, w.created
		if m.Webhook {
			// The message.sent event, in the message's own transaction:
			// one row per app for the whole batch, written below.
			hb := hooked[m.AppID]
			if hb == nil {
				hb = &webhookBatch{app: m.AppID, created: created}
				hooked[m.AppID] = hb
				hookOrder = append(hookOrder, hb)
			}
			hb.ids = append(hb.ids, m.ID)
		}
		if len(m.PushUsers) > 0 && m.PushConfig != nil {
			pushes = append(pushes, timedIntent{
				in:  messageIntent(m.AppID, m.ID, *m.PushConfig, m.PushExpires, false, m.PushUsers...),
				now: fromMillis(created)})
		}
		switch m.ConvType {
		case convTypePeer:
			touch(m, seq, m.Sender, m.Recipient)
			touch(m, seq, m.Recipient, m.Sender)
		case convTypeGroup:
			ck := convKey{app: m.AppID, conv: m.ConvID}
			g := groups[ck]
			if g == nil {
				// Seqs are dense: the group's first message of the batch
				// follows the last one before it.
				g = &groupUpdate{app: m.AppID, group: m.Recipient, senders: map[string]int64{}, before: seq - 1}
				groups[ck] = g
				groupOrder = append(groupOrder, g)
			}
			g.lastSeq, g.lastMsgID = seq, m.ID
			g.senders[m.Sender] = seq
			g.loud = g.loud || !m.Quiet
			if m.GroupPush && m.PushConfig != nil {
				var expires int64
				if !m.PushExpires.IsZero() {
					expires = m.PushExpires.UnixMilli()
				}
				if _, err := tx.ExecContext(ctx, qInsertFanout, m.ID, m.AppID, m.Recipient, seq, m.Sender,
					w.cfg, expires, created); err != nil {
					return nil, ctxErr(ctx, op+": group push", err)
				}
			}
		}
	}
	if _, err := planner.planBatch(ctx, pushes); err != nil {
		return nil, ctxErr(ctx, op+": push jobs", err)
	}
	for _, g := range groupOrder {
		if _, err := tx.ExecContext(ctx, qGroupAppended, g.app, g.group, g.lastSeq, g.lastMsgID); err != nil {
			return nil, ctxErr(ctx, op+": group", err)
		}
		if !g.loud {
			// Quiet messages only: who had read everything still has.
			if _, err := tx.ExecContext(ctx, qQuietRead, g.app, g.group, g.before, g.lastSeq); err != nil {
				return nil, ctxErr(ctx, op+": group quiet read", err)
			}
		}
		for sender, seq := range g.senders {
			if _, err := tx.ExecContext(ctx, qSenderRead, g.app, g.group, sender, seq); err != nil {
				return nil, ctxErr(ctx, op+": group read", err)
			}
		}
	}

	for _, hb := range hookOrder {
		if _, err := tx.ExecContext(ctx, qInsertWebhookBatch, hb.app, webhook.EncodeIDs(hb.ids), len(hb.ids), hb.created); err != nil {
			return nil, ctxErr(ctx, op+": webhook event", err)
		}
	}
	args = args[:0]
	for _, r := range order {
		args = append(args, r.app, r.owner, r.conv, r.convType, r.peer, r.lastSeq, r.lastMsgID, r.unread)
	}
	if _, err := s.wUpsertConversations.exec(ctx, tx, args); err != nil {
		return nil, ctxErr(ctx, op+": conversation", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, ctxErr(ctx, op+": commit", err)
	}
	return results, nil
}

// PlanPushOnce implements im.Store: each plan is a message intent with
// Once, in one transaction.
func (s *Store) PlanPushOnce(ctx context.Context, appID, userID string, plans []im.PushPlan, now time.Time) (int, error) {
	const op = "store: plan push once"
	if len(plans) == 0 {
		return 0, nil
	}
	n := 0
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		// On a shared database two nodes may plan the same user's late
		// pushes at once (two of the user's sessions ending on two nodes):
		// each plan takes its message's once lock (lockOnce) first.
		planner := s.planner(tx)
		defer planner.close()
		for _, p := range plans {
			in := messageIntent(appID, p.MessageID, p.PushConfig, p.ExpiresAt, true, userID)
			ids, err := planner.plan(ctx, in, now)
			if err != nil {
				return err
			}
			n += len(ids)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// messageIntent is the push of message id with its push config c to
// users.
func messageIntent(appID string, id int64, c push.Content, expires time.Time, once bool, users ...string) push.Intent {
	return push.Intent{AppID: appID, Targets: push.Targets{UserIDs: users},
		Source: push.Source{Kind: push.SourceMessage, MessageID: id}, Content: c, ExpiresAt: expires, Once: once}
}

// checkMessage enforces AppendMessages' preconditions. For peer messages the
// conversation key must be the participants' canonical one: the rows of both
// participants are keyed by it.
func checkMessage(m *im.Message) error {
	switch {
	case m == nil:
		return errors.New("nil message")
	case m.AppID == "":
		return errors.New("empty AppID")
	case m.ID == 0:
		return errors.New("zero ID")
	case m.ConvID == "":
		return errors.New("empty ConvID")
	case m.Sender == "":
		return errors.New("empty sender")
	case m.Recipient == "":
		return errors.New("empty recipient")
	case m.CreatedAt.IsZero():
		return errors.New("zero CreatedAt")
	}
	switch m.ConvType {
	case convTypePeer:
		if peer, ok := im.PeerOf(m.ConvID, m.Sender); !ok || peer != m.Recipient {
			return fmt.Errorf("ConvID %q is not the peer conversation of %q and %q", m.ConvID, m.Sender, m.Recipient)
		}
	case convTypeGroup:
		if m.ConvID != im.GroupConvID(m.Recipient) {
			return fmt.Errorf("ConvID %q is not the conversation of group %q", m.ConvID, m.Recipient)
		}
	default:
		return fmt.Errorf("unknown conversation type %d", m.ConvType)
	}
	return nil
}

// MessagesAfter returns up to limit messages with Seq > afterSeq, ascending;
// see im.Store. A limit of zero or less returns none.
func (s *Store) MessagesAfter(ctx context.Context, appID, convID string, afterSeq int64, limit int) ([]im.Message, error) {
	if limit <= 0 {
		return nil, nil
	}
	return s.queryMessages(ctx, "store: messages after", s.rMessagesAfter, appID, convID, afterSeq, limit)
}

// MessagesBefore returns up to limit messages with Seq < beforeSeq (all when
// beforeSeq is 0), newest first; see im.Store. A limit of zero or less
// returns none.
func (s *Store) MessagesBefore(ctx context.Context, appID, convID string, beforeSeq int64, limit int) ([]im.Message, error) {
	if limit <= 0 {
		return nil, nil
	}
	if beforeSeq == 0 {
		beforeSeq = math.MaxInt64
	}
	return s.queryMessages(ctx, "store: messages before", s.rMessagesBefore, appID, convID, beforeSeq, limit)
}

// queryMessages runs one of the paging statements.
func (s *Store) queryMessages(ctx context.Context, op string, stmt *sql.Stmt, appID, convID string, seq int64, limit int) ([]im.Message, error) {
	rows, err := stmt.QueryContext(ctx, appID, convID, seq, limit)
	if err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	defer rows.Close()
	msgs := make([]im.Message, 0, min(limit, 512))
	for rows.Next() {
		m := im.Message{AppID: appID}
		if err := scanMessage(rows, &m); err != nil {
			return nil, ctxErr(ctx, op, err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, ctxErr(ctx, op, err)
	}
	return msgs, nil
}

// nullIfEmpty stores an empty string as NULL: an absent local ID must not
// take part in the unique index.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// fromMillis converts a stored Unix millisecond time.
func fromMillis(ms int64) time.Time {
	return time.UnixMilli(ms).UTC()
}
