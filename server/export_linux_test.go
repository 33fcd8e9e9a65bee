package server

import "github.com/coredns/caddy"

// UDPDatagrams returns how many datagrams each UDP socket that the
// servers of inst serve on addr has read so far, one count a socket.
func UDPDatagrams(inst *caddy.Instance, addr string) []uint64 {
	inst.StorageMu.RLock()
	servers, _ := inst.Storage[serversKey].([]*Server)
	inst.StorageMu.RUnlock()
	var counts []uint64
	for _, s := range servers {
		if s.addr != addr {
			continue
		}
		s.mu.Lock()
		running := s.running
		s.mu.Unlock()
		for _, t := range running {
			<-t.started
			if u, ok := t.run.(*udpServer); ok {
				counts = append(counts, u.datagrams.Load())
			}
		}
	}
	return counts
}

// Predecessors returns how many servers of replaced configurations each
// server of inst still holds on to.
func Predecessors(inst *caddy.Instance) []int {
	inst.StorageMu.RLock()
	servers, _ := inst.Storage[serversKey].([]*Server)
	inst.StorageMu.RUnlock()
	var out []int
	for _, s := range servers {
		s.mu.Lock()
		out = append(out, len(s.predecessors))
		s.mu.Unlock()
	}
	return out
}
