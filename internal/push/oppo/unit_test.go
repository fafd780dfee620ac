package oppo

import (
	"testing"
	"time"
)

func TestNextChinaMidnight(t *testing.T) {
	tests := []struct{ now, want time.Time }{
		{time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 16, 0, 0, 0, time.UTC)},
		{time.Date(2026, 3, 1, 16, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 16, 0, 0, 0, time.UTC)},
		{time.Date(2026, 3, 1, 15, 59, 59, 0, time.UTC), time.Date(2026, 3, 1, 16, 0, 0, 0, time.UTC)},
		{time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 16, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		if got := nextChinaMidnight(tt.now); !got.Equal(tt.want) {
			t.Errorf("nextChinaMidnight(%v) = %v, want %v", tt.now, got, tt.want)
		}
	}
}

func TestTranslate(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	code := func(c int) *int { return &c }
	tests := []struct {
		a    answer
		want string
	}{
		{answer{status: 200, readable: true, Code: code(0)}, "delivered"},
		{answer{status: 200, readable: true, Code: code(10000)}, "drop_device"},
		{answer{status: 200, readable: true, Code: code(11)}, "auth_failed"},
		{answer{status: 200, readable: true, Code: code(-1)}, "retry"},
		{answer{status: 200, readable: true, Code: code(-2)}, "retry"},
		{answer{status: 200, readable: true, Code: code(13)}, "retry"},
		{answer{status: 200, readable: true, Code: code(55)}, "retry"},
		{answer{status: 200, readable: true, Code: code(33)}, "quota_exhausted"},
		{answer{status: 200, readable: true, Code: code(14)}, "rejected"},
		{answer{status: 200, readable: true, Code: code(30)}, "rejected"},
		{answer{status: 200, readable: true, Code: code(67)}, "rejected"},
		{answer{status: 200, readable: true, Code: code(41)}, "rejected"},
		{answer{status: 502}, "retry"},
		{answer{status: 404}, "rejected"},
		{answer{status: 200}, "rejected"},
	}
	for _, tt := range tests {
		if got := tt.a.result(now).Outcome.String(); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.a, got, tt.want)
		}
	}
	r := (&answer{status: 503, retryAfter: "30"}).result(now)
	if r.RetryAfter != 30*time.Second {
		t.Errorf("Retry-After: %v", r.RetryAfter)
	}
}
