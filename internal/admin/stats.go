package admin

import (
	"net/http"
	"slices"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
)

// Push statistics (GET /v1/apps/{appID}/push/stats): the store's rollup
// (push.StatsStore) of planned, sent, accepted, failed, arrived and
// clicked pushes per vendor, in buckets of an hour or a day (UTC).

// maxStatsBuckets bounds one query: 31 days of hours, or about two years
// of days.
const maxStatsBuckets = 744

// defaultStatsBuckets is the window when from is not given: a day of
// hours, or a month of days.
var defaultStatsBuckets = map[string]int{"hour": 24, "day": 31}

var statsBuckets = map[string]time.Duration{"hour": time.Hour, "day": 24 * time.Hour}

// statCounts are one vendor's counts in one bucket (or the window).
type statCounts struct {
	Planned  int64 `json:"planned"`
	Sent     int64 `json:"sent"`
	Accepted int64 `json:"accepted"`
	Failed   int64 `json:"failed"`
	// FailedByReason splits Failed by the last attempt's outcome.
	FailedByReason map[string]int64 `json:"failedByReason"`
	Arrived        int64            `json:"arrived"`
	Clicked        int64            `json:"clicked"`
}

func (c *statCounts) add(r push.StatsRow) {
	switch r.Event {
	case push.StatPlanned:
		c.Planned += r.N
	case push.StatSent:
		c.Sent += r.N
	case push.StatAccepted:
		c.Accepted += r.N
	case push.StatFailed:
		c.Failed += r.N
		c.FailedByReason[r.Reason] += r.N
	case push.StatArrived:
		c.Arrived += r.N
	case push.StatClicked:
		c.Clicked += r.N
	}
}

type statBucket struct {
	Start  time.Time   `json:"start"`
	Vendor push.Vendor `json:"vendor"`
	statCounts
}

type statTotal struct {
	Vendor push.Vendor `json:"vendor"`
	statCounts
}

// statsReply is the statistics of [From, To): the buckets that have a
// count, by start then vendor, and each vendor's totals.
type statsReply struct {
	From    time.Time    `json:"from"`
	To      time.Time    `json:"to"`
	Bucket  string       `json:"bucket"`
	Buckets []statBucket `json:"buckets"`
	Totals  []statTotal  `json:"totals"`
}

func (h *Handler) statsRoutes() []route {
	return []route{
		{"GET", "/v1/apps/{appID}/push/stats", h.pushStats, nil, statsReply{}},
	}
}

// pushStats answers the statistics query: bucket hour (default) or day;
// from and to RFC 3339 times, from rounded down and to up to whole
// buckets (to defaults to the end of the current bucket, from to a day of
// hours or a month of days before it); vendor one vendor, or all.
func (h *Handler) pushStats(w http.ResponseWriter, r *http.Request, app im.App) error {
	if h.d.Stats == nil {
		return protocol.Errorf(protocol.CodeUnavailable, "push statistics are not available on this server")
	}
	q := r.URL.Query()
	name := q.Get("bucket")
	if name == "" {
		name = "hour"
	}
	size, ok := statsBuckets[name]
	if !ok {
		return protocol.Errorf(protocol.CodeInvalidStatsQuery, "bucket must be hour or day")
	}
	parse := func(key string) (time.Time, bool, error) {
		s := q.Get(key)
		if s == "" {
			return time.Time{}, false, nil
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return time.Time{}, false, protocol.Errorf(protocol.CodeInvalidStatsQuery, "%s must be an RFC 3339 time", key)
		}
		return t, true, nil
	}
	to, haveTo, err := parse("to")
	if err != nil {
		return err
	}
	if !haveTo {
		to = h.cfg.Now()
	}
	if end := to.UTC().Truncate(size); end.Before(to) {
		to = end.Add(size)
	} else {
		to = end
	}
	from, haveFrom, err := parse("from")
	if err != nil {
		return err
	}
	if !haveFrom {
		from = to.Add(-time.Duration(defaultStatsBuckets[name]) * size)
	}
	from = from.UTC().Truncate(size)
	switch {
	case !from.Before(to):
		return protocol.Errorf(protocol.CodeInvalidStatsQuery, "from must be before to")
	case to.Sub(from)/size > maxStatsBuckets:
		return protocol.Errorf(protocol.CodeInvalidStatsQuery, "at most %d buckets at once", maxStatsBuckets)
	}
	vendor := push.Vendor(q.Get("vendor"))
	if vendor != "" && !slices.Contains(push.Vendors, vendor) {
		return protocol.Errorf(protocol.CodeInvalidStatsQuery, "unknown vendor %.32q", string(vendor))
	}
	rows, err := h.d.Stats.PushStats(r.Context(), push.StatsQuery{AppID: app.ID, From: from, To: to, Bucket: size, Vendor: vendor})
	if err != nil {
		return err
	}
	reply := statsReply{From: from, To: to, Bucket: name, Buckets: []statBucket{}, Totals: []statTotal{}}
	totals := map[push.Vendor]*statCounts{}
	for _, row := range rows {
		n := len(reply.Buckets)
		if n == 0 || !reply.Buckets[n-1].Start.Equal(row.Start) || reply.Buckets[n-1].Vendor != row.Vendor {
			reply.Buckets = append(reply.Buckets, statBucket{Start: row.Start, Vendor: row.Vendor,
				statCounts: statCounts{FailedByReason: map[string]int64{}}})
			n++
		}
		reply.Buckets[n-1].add(row)
		t := totals[row.Vendor]
		if t == nil {
			t = &statCounts{FailedByReason: map[string]int64{}}
			totals[row.Vendor] = t
		}
		t.add(row)
	}
	for _, v := range push.Vendors {
		if t := totals[v]; t != nil {
			reply.Totals = append(reply.Totals, statTotal{Vendor: v, statCounts: *t})
		}
	}
	writeJSON(w, http.StatusOK, reply)
	return nil
}
