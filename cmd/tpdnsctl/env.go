package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/tpdns/tpdns/internal/tsigfile"
)

// Defaults of env.
const (
	defaultZone       = "tp.internal"
	defaultResolvConf = "/etc/resolv.conf"
)

// env prints the connection information of a service, as DNS gives it to
// whoever asks (and the secrets when the query is signed with a key the
// service lists in secrets_keys), as export lines for a shell or an init
// container: what a workload would read with its own resolver, so that
// what works here works there.
func env(ctx context.Context, c *call) error {
	name := c.args[0]
	if !strings.HasSuffix(name, ".") {
		zone := c.opts.zone
		if !c.flags.Changed("zone") && c.getenv("TPDNS_ZONE") != "" {
			zone = c.getenv("TPDNS_ZONE")
		}
		name += "." + strings.TrimSuffix(zone, ".") + "."
	}
	server, err := dnsServer(c)
	if err != nil {
		return err
	}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	q.SetEdns0(1232, false)
	client := &dns.Client{Net: "udp", Timeout: c.opts.timeout}
	if c.opts.tsigKey != "" {
		keys, err := tsigfile.Read(c.opts.tsigKey)
		if err != nil {
			return err
		}
		k := keys[0]
		alg := k.Algorithm
		if alg == "" {
			alg = dns.HmacSHA256
		}
		q.SetTsig(k.Name, alg, 300, c.now().Unix())
		client.TsigSecret = map[string]string{k.Name: base64.StdEncoding.EncodeToString(k.Secret)}
	}
	m, err := exchange(ctx, client, q, server)
	if m != nil {
		// A refused key is said before the reply's missing signature.
		if err := txtError(m, name); err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	if c.opts.tsigKey != "" && m.IsTsig() == nil {
		// miekg/dns checks a signature only when there is one: a spoofed
		// or forwarded reply without any must not pass for the server's.
		return fmt.Errorf("the reply from %s is not signed with the key", server)
	}
	values := map[string]string{}
	for _, rr := range m.Answer {
		txt, ok := rr.(*dns.TXT)
		if !ok {
			continue
		}
		for _, s := range txt.Txt {
			k, v, ok := strings.Cut(unescape(s), "=")
			if !ok || !envName.MatchString(k) {
				// Printed into lines a shell evaluates: only a name, as
				// the registry allows, never anything a shell would run.
				fmt.Fprintf(c.stderr, "tpdnsctl: skipped %q: not KEY=value with KEY a variable name\n", s)
				continue
			}
			values[k] = v
		}
	}
	switch c.opts.output {
	case outputJSON, outputYAML:
		b, err := json.MarshalIndent(values, "", "  ")
		if err != nil {
			return err
		}
		if c.opts.output == outputYAML {
			return writeYAML(c.stdout, b)
		}
		_, err = fmt.Fprintf(c.stdout, "%s\n", b)
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		fmt.Fprintf(c.stdout, "export %s=%s\n", k, shellQuote(values[k]))
	}
	return nil
}

// envName is a key that can be a shell variable, as the registry's keys
// are.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// dnsServer is where env asks: --dns, TPDNS_DNS, or the first name server
// of /etc/resolv.conf, on port 53 unless one is given.
func dnsServer(c *call) (string, error) {
	server := c.opts.dns
	if server == "" {
		server = c.getenv("TPDNS_DNS")
	}
	if server == "" {
		conf, err := dns.ClientConfigFromFile(defaultResolvConf)
		if err != nil || len(conf.Servers) == 0 {
			return "", fmt.Errorf("no DNS server: give --dns ADDRESS or set TPDNS_DNS (%s has none)", defaultResolvConf)
		}
		server = conf.Servers[0]
	}
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(strings.Trim(server, "[]"), "53")
	}
	return server, nil
}

// exchange asks q over UDP, and again over TCP when the reply is cut. The
// reply comes with the error of its signature's verification, if any.
func exchange(ctx context.Context, client *dns.Client, q *dns.Msg, server string) (*dns.Msg, error) {
	m, _, err := client.ExchangeContext(ctx, q, server)
	if err == nil && m.Truncated {
		tcp := *client
		tcp.Net = "tcp"
		m, _, err = tcp.ExchangeContext(ctx, q, server)
	}
	switch {
	case err == nil:
		return m, nil
	case errors.Is(err, dns.ErrSig), errors.Is(err, dns.ErrTime), errors.Is(err, dns.ErrSecret):
		return m, fmt.Errorf("the reply from %s is not signed with the key: %w", server, err)
	}
	return m, fmt.Errorf("asking %s: %w", server, err)
}

// txtError says why m holds no answer to the TXT question of name.
func txtError(m *dns.Msg, name string) error {
	if sig := m.IsTsig(); sig != nil && sig.Error != dns.RcodeSuccess {
		return fmt.Errorf("%s: the server refused the key: %s", name, dns.RcodeToString[int(sig.Error)])
	}
	switch m.Rcode {
	case dns.RcodeSuccess:
		return nil
	case dns.RcodeNameError:
		return fmt.Errorf("%s: no such service (NXDOMAIN)", name)
	case dns.RcodeRefused:
		return fmt.Errorf("%s: REFUSED (not in the service's allow, or not a zone of the server)", name)
	}
	return fmt.Errorf("%s: %s", name, dns.RcodeToString[m.Rcode])
}

// unescape turns a TXT string from miekg/dns's presentation form (\" \\
// \DDD) back into its bytes.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		if i+3 < len(s) && isDigits(s[i+1:i+4]) {
			n, _ := strconv.Atoi(s[i+1 : i+4])
			b.WriteByte(byte(n))
			i += 3
			continue
		}
		i++
		b.WriteByte(s[i])
	}
	return b.String()
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// shellQuote quotes v for a POSIX shell: single quotes, each one inside
// written '\”.
func shellQuote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
