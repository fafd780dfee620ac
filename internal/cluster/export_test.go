package cluster

// LockKey exposes lockKey to the tests, which find the leader's session by
// its lock.
var LockKey = lockKey
