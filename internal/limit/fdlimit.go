package limit

// fdReserveFixed and fdReserveShare make the descriptors FromFileLimit
// keeps away from WebSocket connections: the store (the database, its
// WAL and shared-memory files, per pooled connection), the push vendors'
// HTTP/2 connections, the listener, and the HTTP requests of /healthz,
// /readyz, /metrics and the admin API, which must keep being answered
// when the connections are at their cap.
const (
	fdReserveFixed = 256
	fdReserveShare = 20 // one twentieth (5 %) of the limit
	// fdUnlimited stands for an unlimited RLIMIT_NOFILE.
	fdUnlimited = 1 << 20
)

// FromFileLimit derives the default max-connections from the process's
// file-descriptor limit n: n - (256 + n/20), and never less than n/2
// (for tiny limits). 1024 gives 717, 65536 gives 62,004, 1,048,576 gives
// 995,892. An unknown limit (0) or one above 2^20 counts as 2^20.
func FromFileLimit(n uint64) int {
	if n == 0 || n > fdUnlimited {
		n = fdUnlimited
	}
	m := int(n)
	return max(m-(fdReserveFixed+m/fdReserveShare), m/2)
}
