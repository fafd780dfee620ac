package sqlstore

// Query text. It is written to run unchanged on PostgreSQL ($n placeholders,
// INSERT ... ON CONFLICT, no SQLite-only functions) so that the PostgreSQL
// store can share it; only the migrations differ.

// msgColumns is the column list every message query selects, in the order
// scanMessage reads it.
const msgColumns = `id, conv_id, conv_type, seq, sender, recipient, type, sub_type, text, data,
	searched_content, extended_data, priority, COALESCE(local_id, ''), content_hash, push_config, created_at,
	revoked_at, revoked_by, revoke_status, revoke_data, mentions`

const (
	qInsertApp = `INSERT INTO apps (id, name, secret, admin_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`

	qApp = `SELECT ` + appColumns + ` FROM apps WHERE id = $1`

	// qInsertMessages writes message rows (valuesSQL: qInsertMessagesHead,
	// messageCols parameters per row, qInsertMessagesTail). A row whose
	// sender's local ID exists is not written (RowsAffected counts only the
	// rows written) and the caller looks up the stored one. A conflict on
	// any other key is an error.
	qInsertMessagesHead = `INSERT INTO messages (id, app_id, conv_id, seq, conv_type, sender, recipient,
	type, sub_type, text, data, searched_content, extended_data, priority, local_id, content_hash,
	push_config, created_at, mentions)
VALUES `
	qInsertMessagesTail = `
ON CONFLICT (app_id, sender, local_id) WHERE local_id IS NOT NULL DO NOTHING`

	qMessageByLocalID = `SELECT id, seq, created_at, content_hash FROM messages
WHERE app_id = $1 AND sender = $2 AND local_id = $3`

	qLastSeq = `SELECT COALESCE(MAX(seq), 0) FROM messages WHERE app_id = $1 AND conv_id = $2`

	// qUpsertConversations applies one batch's coalesced change to
	// participants' rows (valuesSQL: qUpsertConversationsHead,
	// conversationCols parameters and read_seq 0 per row,
	// qUpsertConversationsTail); a statement holds each row once. Seqs
	// only grow and the batches of a conversation follow each other
	// (SQLite: one writer; PostgreSQL: the conversation's lock,
	// seqalloc.go), so the batch's last seq and message replace the stored
	// ones.
	qUpsertConversationsHead = `INSERT INTO conversations (app_id, owner_id, conv_id, conv_type, peer_id,
	last_seq, last_msg_id, unread, read_seq)
VALUES `
	qUpsertConversationsRow  = `, 0`
	qUpsertConversationsTail = `
ON CONFLICT (app_id, owner_id, conv_id) DO UPDATE SET
	last_seq = excluded.last_seq,
	last_msg_id = excluded.last_msg_id,
	unread = conversations.unread + excluded.unread`

	qMessagesAfter = `SELECT ` + msgColumns + ` FROM messages
WHERE app_id = $1 AND conv_id = $2 AND seq > $3 ORDER BY seq LIMIT $4`

	qMessagesBefore = `SELECT ` + msgColumns + ` FROM messages
WHERE app_id = $1 AND conv_id = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4`

	// convSelect reads a conversation row with its last message; the
	// message columns are NULL (m.id IS NULL) if the message is missing.
	convSelect = `SELECT c.conv_id, c.conv_type, c.peer_id, c.last_seq, c.unread, c.last_msg_id,
	m.id, COALESCE(m.conv_type, 0), COALESCE(m.seq, 0), COALESCE(m.sender, ''),
	COALESCE(m.recipient, ''), COALESCE(m.type, 0), COALESCE(m.sub_type, 0), COALESCE(m.text, ''),
	m.data, COALESCE(m.searched_content, ''), COALESCE(m.extended_data, ''),
	COALESCE(m.priority, 0), COALESCE(m.local_id, ''), m.content_hash, m.push_config,
	COALESCE(m.created_at, 0), COALESCE(m.revoked_at, 0), COALESCE(m.revoked_by, ''),
	COALESCE(m.revoke_status, 0), COALESCE(m.revoke_data, ''), m.mentions, ` + notifyStatusColumn + `
FROM conversations c
LEFT JOIN messages m ON m.app_id = c.app_id AND m.conv_id = c.conv_id AND m.seq = c.last_seq
LEFT JOIN conversation_settings cs ON cs.app_id = c.app_id AND cs.user_id = c.owner_id AND cs.conv_id = c.conv_id`

	qConversations = convSelect + `
WHERE c.app_id = $1 AND c.owner_id = $2 AND c.last_msg_id < $3
ORDER BY c.last_msg_id DESC LIMIT $4`

	qConversation = convSelect + `
WHERE c.app_id = $1 AND c.owner_id = $2 AND c.conv_id = $3`

	qReadState = `SELECT last_seq, read_seq FROM conversations
WHERE app_id = $1 AND owner_id = $2 AND conv_id = $3`

	qUnreadAfter = `SELECT COUNT(*) FROM messages
WHERE app_id = $1 AND conv_id = $2 AND seq > $3 AND sender <> $4`

	qSetRead = `UPDATE conversations SET read_seq = $4, unread = $5
WHERE app_id = $1 AND owner_id = $2 AND conv_id = $3`

	qPending = `SELECT c.conv_id, c.conv_type, c.peer_id, COALESCE(k.seq, 0), c.last_seq
FROM conversations c
LEFT JOIN cursors k ON k.app_id = c.app_id AND k.user_id = c.owner_id
	AND k.device_id = $3 AND k.conv_id = c.conv_id
WHERE c.app_id = $1 AND c.owner_id = $2 AND c.last_seq > COALESCE(k.seq, 0)
ORDER BY c.conv_id`

	// qUserCursor is the furthest any device of a user got in a
	// conversation.
	qUserCursor = `SELECT COALESCE(MAX(seq), 0) FROM cursors WHERE app_id = $1 AND user_id = $2 AND conv_id = $3`

	// qSaveCursor never moves a cursor back: the update applies only to a
	// higher seq.
	qSaveCursor = `INSERT INTO cursors (app_id, user_id, device_id, conv_id, seq)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (app_id, user_id, device_id, conv_id) DO UPDATE SET seq = excluded.seq
WHERE excluded.seq > cursors.seq`
)
