package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// minRenewal keeps a heartbeat of a tiny --ttl from spinning; the server
// counts in whole seconds anyway.
const minRenewal = 10 * time.Millisecond

// endpointRequest is the body of an endpoint PUT. A nil field is left out,
// and the server keeps what the endpoint had.
type endpointRequest struct {
	Port     *uint16 `json:"port,omitempty"`
	Name     *string `json:"name,omitempty"`
	Priority *uint16 `json:"priority,omitempty"`
	Weight   *uint16 `json:"weight,omitempty"`
	Disabled *bool   `json:"disabled,omitempty"`
	TTL      *int64  `json:"ttl,omitempty"` // seconds
}

// endpointBody is the PUT body of the endpoint flags given, or nil when
// none is.
func (c *call) endpointBody() ([]byte, error) {
	o := c.opts.endpoint
	var r endpointRequest
	if c.flags.Changed("port") {
		r.Port = &o.port
	}
	if c.flags.Changed("name") {
		r.Name = &o.name
	}
	if c.flags.Changed("priority") {
		r.Priority = &o.priority
	}
	if c.flags.Changed("weight") {
		r.Weight = &o.weight
	}
	if c.flags.Changed("disabled") {
		r.Disabled = &o.disabled
	}
	if c.flags.Changed("ttl") {
		s := ttlSeconds(o.ttl)
		r.TTL = &s
	}
	if r == (endpointRequest{}) {
		return nil, nil
	}
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	return body, nil
}

// ttlSeconds is d in whole seconds, rounded up so that the endpoint lives
// at least as long as asked: 300ms is 1.
func ttlSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second > 0 {
		s++
	}
	return s
}

// endpointMessage is what a PUT of the endpoint did.
func endpointMessage(service, address string, status int) string {
	verb := "updated"
	if status == http.StatusCreated {
		verb = "added"
	}
	return "endpoint " + address + " of " + service + " " + verb
}

// endpointsAdd adds or updates one endpoint.
func endpointsAdd(ctx context.Context, c *call) error {
	service, address := c.args[0], c.args[1]
	body, err := c.endpointBody()
	if err != nil {
		return err
	}
	status, raw, err := c.client.do(ctx, http.MethodPut, endpointPath(service, address), body)
	if err != nil {
		return c.byFlags(err)
	}
	return c.report(raw, endpointMessage(service, address, status))
}

// byFlags makes err, the API's refusal of an endpoint PUT, name the flag
// or argument a field it names came from: "(--weight)" rather than
// "(field weight)".
func (c *call) byFlags(err error) error {
	var e *apiError
	if errors.As(err, &e) {
		e.rename = func(field string) string {
			switch {
			case field == "address":
				return "ADDRESS"
			case field != "" && c.flags.Lookup(field) != nil && c.flags.Changed(field):
				return "--" + field
			}
			return ""
		}
	}
	return err
}

// addressPort returns the host and port of an ADDRESS given with a port
// ("192.0.2.52:99", "[fd00::1]:99", "db.example.com:5432"), which the API
// takes apart: ok is false for an address alone.
func addressPort(address string) (host, port string, ok bool) {
	if _, err := netip.ParseAddr(address); err == nil {
		return "", "", false // an IPv6 address has colons, and no port
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil || port == "" || strings.Trim(port, "0123456789") != "" {
		return "", "", false
	}
	return host, port, true
}

// endpointsRemove removes one endpoint.
func endpointsRemove(ctx context.Context, c *call) error {
	service, address := c.args[0], c.args[1]
	_, raw, err := c.client.do(ctx, http.MethodDelete, endpointPath(service, address), nil)
	if err != nil {
		return err
	}
	return c.report(raw, "endpoint "+address+" of "+service+" removed")
}

// endpointsHeartbeat puts the endpoint with its ttl, then again every
// third of the ttl until ctx ends or a signal comes, reporting each
// renewal with -v and how many there were at the end.
func endpointsHeartbeat(ctx context.Context, c *call) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	service, address := c.args[0], c.args[1]
	path := endpointPath(service, address)
	body, err := c.endpointBody()
	if err != nil {
		return err
	}
	// Only the first PUT can fail the command: an endpoint that never
	// registered is a mistake to fix, one that lapses is a blip to ride out.
	status, raw, err := c.client.do(ctx, http.MethodPut, path, body)
	if err != nil {
		return c.byFlags(err)
	}
	if err := c.report(raw, endpointMessage(service, address, status)); err != nil {
		return err
	}
	renewed, failed := 0, 0
	defer func() {
		// On stdout after the table's lines, on stderr after JSON, which
		// a script reads as a stream of replies.
		w := c.stdout
		if c.opts.output == outputJSON {
			w = c.stderr
		}
		fmt.Fprintf(w, "endpoint %s of %s: %s, %d failed; left to expire within %ds\n",
			address, service, plural(renewed, "renewal"), failed, ttlSeconds(c.opts.endpoint.ttl))
	}()
	tick := time.NewTicker(max(c.opts.endpoint.ttl/3, minRenewal))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			// The endpoint is left to expire: a restarted heartbeat takes
			// it over without a gap in DNS.
			return nil
		case <-tick.C:
		}
		status, raw, err := c.client.do(ctx, http.MethodPut, path, body)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			failed++
			fmt.Fprintf(c.stderr, "tpdnsctl: renew endpoint %s of %s: %v\n", address, service, err)
			continue
		}
		renewed++
		switch {
		case status == http.StatusCreated:
			// It had expired or been removed meanwhile; say it is back.
			err = c.report(raw, endpointMessage(service, address, status))
		case c.opts.verbose:
			err = c.report(raw, "endpoint "+address+" of "+service+" renewed")
		}
		if err != nil {
			return err
		}
	}
}

// plural is "1 renewal", "2 renewals".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
