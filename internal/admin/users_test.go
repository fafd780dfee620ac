package admin

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseBefore(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	for _, tc := range []struct {
		raw  string
		want time.Time
		ok   bool
	}{
		{"", now, true},
		{"null", now, true},
		{"1799999999000", time.UnixMilli(1_799_999_999_000), true},
		{`"2027-01-15T08:00:00Z"`, time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC), true},
		{`"2027-01-15T08:00:00.250+01:00"`, time.Date(2027, 1, 15, 7, 0, 0, 250e6, time.UTC), true},
		{"1800000030000", time.UnixMilli(1_800_000_030_000), true}, // within the slack
		{"1800000090000", time.Time{}, false},                      // past the slack
		{`"2027-01-15"`, time.Time{}, false},
		{"0", time.Time{}, false},
		{"-5", time.Time{}, false},
		{"1.5", time.Time{}, false},
		{"true", time.Time{}, false},
		{`{"at":1}`, time.Time{}, false},
	} {
		got, err := parseBefore(json.RawMessage(tc.raw), now)
		if (err == nil) != tc.ok || tc.ok && !got.Equal(tc.want) {
			t.Errorf("parseBefore(%s) = %v, %v; want %v ok=%v", tc.raw, got, err, tc.want, tc.ok)
		}
	}
}
