package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/heraldim/herald/internal/push"
)

var _ push.DeviceEventLog = (*Store)(nil)

// keepDeviceEvents is how many events a device keeps: enough for its
// recent history in the trace, bounded however often it changes hands.
const keepDeviceEvents = 100

const (
	qDeviceUser = `SELECT user_id FROM devices WHERE app_id = $1 AND push_id = $2`

	qInsertDeviceEvent = `INSERT INTO device_events (app_id, push_id, at, kind, from_user, to_user, reason)
VALUES ($1, $2, $3, $4, $5, $6, $7)`

	// qTrimDeviceEvents keeps the device's newest keepDeviceEvents events.
	qTrimDeviceEvents = `DELETE FROM device_events WHERE app_id = $1 AND push_id = $2 AND id <
	(SELECT MIN(id) FROM (SELECT id FROM device_events WHERE app_id = $1 AND push_id = $2
		ORDER BY id DESC LIMIT $3) AS recent)`

	qDeviceEvents = `SELECT at, kind, from_user, to_user, reason FROM device_events
WHERE app_id = $1 AND push_id = $2 ORDER BY id DESC LIMIT $3`
)

// deviceUser returns the user the device is bound to ("" for none) and
// whether the device exists.
func deviceUser(ctx context.Context, tx *sql.Tx, appID, pushID string) (string, bool, error) {
	var user string
	err := tx.QueryRowContext(ctx, qDeviceUser, appID, pushID).Scan(&user)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return user, err == nil, err
}

// recordDeviceEvent writes one event of the device in tx and trims its
// oldest.
func recordDeviceEvent(ctx context.Context, tx *sql.Tx, e push.DeviceEvent) error {
	if _, err := tx.ExecContext(ctx, qInsertDeviceEvent, e.AppID, e.PushID, e.At.UnixMilli(), string(e.Kind),
		e.FromUser, e.ToUser, e.Reason); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, qTrimDeviceEvents, e.AppID, e.PushID, keepDeviceEvents)
	return err
}

// DeviceEvents implements push.DeviceEventLog.
func (s *Store) DeviceEvents(ctx context.Context, appID, pushID string, limit int) ([]push.DeviceEvent, error) {
	const op = "store: device events"
	rows, err := s.r.QueryContext(ctx, qDeviceEvents, appID, pushID, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out := []push.DeviceEvent{}
	for rows.Next() {
		e := push.DeviceEvent{AppID: appID, PushID: pushID}
		var at int64
		var kind string
		if err := rows.Scan(&at, &kind, &e.FromUser, &e.ToUser, &e.Reason); err != nil {
			return nil, mapErr(op, err)
		}
		e.At, e.Kind = fromMillis(at), push.DeviceEventKind(kind)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// bindingEvent returns the event of a device going from user from to user
// to, and whether there is one.
func bindingEvent(appID, pushID, from, to string, at time.Time) (push.DeviceEvent, bool) {
	e := push.DeviceEvent{AppID: appID, PushID: pushID, At: at, FromUser: from, ToUser: to}
	switch {
	case from == to:
		return e, false
	case from == "":
		e.Kind = push.DeviceBound
	case to == "":
		e.Kind = push.DeviceUnbound
	default:
		e.Kind = push.DeviceRebound
	}
	return e, true
}
