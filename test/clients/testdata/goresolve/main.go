// Command goresolve is Go's resolver as a workload uses it: net.DefaultResolver,
// built by the client matrix test once with CGO_ENABLED=0 (the pure Go
// resolver) and once with cgo, run with GODEBUG=netdns=cgo (host names
// through the C library's getaddrinfo; Go looks SRV and TXT up itself either
// way).
//
// Arguments are triples ID OP NAME; OP is host (LookupHost), ip4 or ip6
// (LookupIP of that network), srv (LookupSRV of the name itself) or txt
// (LookupTXT). One JSON line per triple on standard output.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

type result struct {
	ID       string   `json:"id"`
	OK       bool     `json:"ok"`
	NotFound bool     `json:"notfound,omitempty"`
	Err      string   `json:"err,omitempty"`
	Values   []string `json:"values"`
	MS       int64    `json:"ms"`
}

func lookup(ctx context.Context, r *net.Resolver, op, name string) ([]string, error) {
	switch op {
	case "host":
		return r.LookupHost(ctx, name)
	case "ip4", "ip6":
		ips, err := r.LookupIP(ctx, op, name)
		var out []string
		for _, ip := range ips {
			out = append(out, ip.String())
		}
		return out, err
	case "srv":
		_, srvs, err := r.LookupSRV(ctx, "", "", name)
		var out []string
		for _, s := range srvs {
			out = append(out, fmt.Sprintf("%d %d %d %s", s.Priority, s.Weight, s.Port, s.Target))
		}
		return out, err
	case "txt":
		return r.LookupTXT(ctx, name)
	}
	return nil, fmt.Errorf("unknown op %q", op)
}

func main() {
	r := net.DefaultResolver
	r.PreferGo = os.Getenv("GORESOLVE_PREFER_GO") != ""
	enc := json.NewEncoder(os.Stdout)
	args := os.Args[1:]
	for i := 0; i+2 < len(args); i += 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		start := time.Now()
		values, err := lookup(ctx, r, args[i+1], args[i+2])
		cancel()
		res := result{ID: args[i], OK: err == nil, Values: values, MS: time.Since(start).Milliseconds()}
		if err != nil {
			if strings.HasPrefix(err.Error(), "unknown op") {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			var de *net.DNSError
			res.NotFound = errors.As(err, &de) && de.IsNotFound
			res.Err = err.Error()
		}
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
