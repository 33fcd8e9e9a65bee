package cache

import (
	"net"

	"github.com/miekg/dns"
)

// recorder passes the reply of the next plugin on and makes the item that
// keeps it, before the plugins above may change the message. With early
// set the item is stored before the client is answered, so that the
// client's next query finds it; store.keep takes it back if the next
// plugin returns an error.
type recorder struct {
	dns.ResponseWriter
	store   *store
	req     *dns.Msg
	key     key
	carry   *item // the item a refresh replaces
	metrics *serverMetrics
	early   bool

	item    *item
	written bool
	noCache bool
}

// WriteMsg implements dns.ResponseWriter.
func (w *recorder) WriteMsg(m *dns.Msg) error {
	w.written = true
	if !w.noCache {
		var dropped bool
		if w.item, dropped = w.store.newItem(w.req, m); dropped {
			w.metrics.drops.Inc()
		}
		if w.item != nil && w.early {
			w.store.set(w.key, w.item, w.carry, w.metrics)
		}
	}
	return w.ResponseWriter.WriteMsg(m)
}

// Write implements dns.ResponseWriter. A reply written as bytes is passed
// on and not kept, as in CoreDNS.
func (w *recorder) Write(b []byte) (int, error) {
	w.written = true
	return w.ResponseWriter.Write(b)
}

// DoNotCache keeps the reply being written out of the cache. A plugin
// after cache whose answer depends on the client (an allow list, a
// secret shown to some clients only) calls it through an interface of its
// own: if nc, ok := w.(interface{ DoNotCache() }); ok { nc.DoNotCache() }.
func (w *recorder) DoNotCache() {
	w.noCache = true
	if w.item != nil && w.early {
		w.store.retract(w.key, w.item)
	}
	w.item = nil
}

// held keeps the reply instead of writing it, so that serve_stale verify
// can choose between it and the stale item.
type held struct {
	dns.ResponseWriter
	msg *dns.Msg
}

// WriteMsg implements dns.ResponseWriter.
func (w *held) WriteMsg(m *dns.Msg) error {
	w.msg = m
	return nil
}

// Write implements dns.ResponseWriter.
func (w *held) Write(b []byte) (int, error) {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		return 0, err
	}
	w.msg = m
	return len(b), nil
}

// nonwriter is the ResponseWriter of a background refresh: it has the
// addresses of the query that started the refresh (a plugin may answer by
// client) and writes nowhere, the client being answered already.
type nonwriter struct {
	local, remote net.Addr
}

func (w *nonwriter) LocalAddr() net.Addr         { return w.local }
func (w *nonwriter) RemoteAddr() net.Addr        { return w.remote }
func (w *nonwriter) WriteMsg(*dns.Msg) error     { return nil }
func (w *nonwriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nonwriter) Close() error                { return nil }
func (w *nonwriter) TsigStatus() error           { return nil }
func (w *nonwriter) TsigTimersOnly(bool)         {}
func (w *nonwriter) Hijack()                     {}
