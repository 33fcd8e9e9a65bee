package etcd

// SetPage sets how many keys one response of Load holds, so that a test
// reads a small store in several pages.
func SetPage(s *Store, n int64) { s.page = n }
