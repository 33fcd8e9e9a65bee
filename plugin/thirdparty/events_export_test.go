package thirdparty

import "time"

// SetEventHeartbeat makes event streams send their heartbeat every d, for
// the servers started from now on, until the test ends.
func SetEventHeartbeat(t interface{ Cleanup(func()) }, d time.Duration) {
	old := eventHeartbeat.Swap(int64(d))
	t.Cleanup(func() { eventHeartbeat.Store(old) })
}
