// Command mapserver answers a zone file from Go maps with miekg/dns: the
// practical ceiling of a Go DNS server, against which make bench measures
// tpdns.
//
//	mapserver -zone tp.internal.zone -origin tp.internal. -addr 127.0.0.1:1053
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/miekg/dns"
)

// Defaults of the flags.
const (
	defaultAddr   = "127.0.0.1:1053"
	defaultOrigin = "tp.internal."
)

func main() {
	addr := flag.String("addr", defaultAddr, "UDP address to serve on")
	file := flag.String("zone", "", "zone file to serve")
	origin := flag.String("origin", defaultOrigin, "origin of the zone file")
	flag.Parse()
	f, err := os.Open(*file)
	if err != nil {
		log.Fatal(err)
	}
	z, err := load(f, *origin, *file)
	f.Close()
	if err != nil {
		log.Fatal(err)
	}
	srv := &dns.Server{Addr: *addr, Net: "udp", Handler: z}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		srv.Shutdown()
	}()
	if err := srv.ListenAndServe(); err != nil {
		log.Fatal(err)
	}
}

// key is an owner name, lower-case, and a type.
type key struct {
	name  string
	qtype uint16
}

// zone is the records of one zone file.
type zone struct {
	origin string
	rrs    map[key][]dns.RR
	names  map[string]bool // owner names, empty non-terminals included
	soa    []dns.RR
}

// load reads a zone file for origin; file names it in errors.
func load(r io.Reader, origin, file string) (*zone, error) {
	origin = dns.CanonicalName(origin)
	z := &zone{origin: origin, rrs: map[key][]dns.RR{}, names: map[string]bool{}}
	zp := dns.NewZoneParser(r, origin, file)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		name := dns.CanonicalName(rr.Header().Name)
		if !dns.IsSubDomain(origin, name) {
			return nil, fmt.Errorf("%s: %s is outside %s", file, name, origin)
		}
		k := key{name, rr.Header().Rrtype}
		z.rrs[k] = append(z.rrs[k], rr)
		for off, end := 0, false; !end && dns.IsSubDomain(origin, name[off:]); off, end = dns.NextLabel(name, off) {
			z.names[name[off:]] = true
		}
		if k.qtype == dns.TypeSOA && name == origin {
			z.soa = []dns.RR{rr}
		}
	}
	if err := zp.Err(); err != nil {
		return nil, err
	}
	if z.soa == nil {
		return nil, fmt.Errorf("%s: no SOA record for %s", file, origin)
	}
	return z, nil
}

// ServeDNS answers from the maps: the records of the name and type, the
// A records of SRV targets as glue, NODATA or NXDOMAIN with the SOA. A
// UDP reply is not truncated: the benchmark's answers are small.
func (z *zone) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	if !dns.IsSubDomain(z.origin, name) {
		m.Rcode = dns.RcodeRefused
		w.WriteMsg(m)
		return
	}
	m.Authoritative = true
	// Echo EDNS0 as tpdns and CoreDNS do, so that replies are the same size.
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), false)
	}
	m.Answer = z.rrs[key{name, q.Qtype}]
	for _, rr := range m.Answer {
		if srv, ok := rr.(*dns.SRV); ok {
			m.Extra = append(m.Extra, z.rrs[key{dns.CanonicalName(srv.Target), dns.TypeA}]...)
		}
	}
	if len(m.Answer) == 0 {
		m.Ns = z.soa
		if !z.names[name] {
			m.Rcode = dns.RcodeNameError
		}
	}
	w.WriteMsg(m)
}
