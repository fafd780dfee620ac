package limit

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkMessagesAllow is the cost the send path pays per message for
// the per-user and per-app rates (both on, never refusing), across 10,000
// users, against none (both off).
func BenchmarkMessagesAllow(b *testing.B) {
	users := make([]string, 10000)
	for i := range users {
		users[i] = "user-" + strconv.Itoa(i)
	}
	for _, on := range []bool{false, true} {
		b.Run("limits="+strconv.FormatBool(on), func(b *testing.B) {
			m := NewMessages(nil, nil, nil)
			if on {
				m = NewMessages(NewKeyed(Bucket{Rate: 1e6, Burst: 1 << 20}, time.Now, nil),
					NewKeyed(Bucket{Rate: 1e9, Burst: 1 << 30}, time.Now, nil), time.Now)
			}
			i := 0
			for b.Loop() {
				if _, _, ok := m.Allow("app", users[i%len(users)]); !ok {
					b.Fatal("refused")
				}
				i++
			}
		})
	}
}
