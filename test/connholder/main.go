// Command connholder opens many TCP connections to one address and holds
// them until its standard input closes: the idle clients of the abuse
// tests, in a process of their own so that their file descriptors do not
// count against the test's (or the server's) limit.
//
//	connholder -addr 127.0.0.1:8053 -n 10000 -src 127.0.0.2,127.0.0.3 \
//	    -payload '' -payload 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'
//
// Connection i is dialled from the i-th source address in turn (each has
// its own ephemeral ports) and sends the i-th payload in turn (Go-quoted;
// "" sends nothing), then reads and discards whatever comes. When every
// connection has been dialled it prints "held N failed M" and waits; the
// connections close when it exits.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type payloads [][]byte

func (p *payloads) String() string { return fmt.Sprint(len(*p)) }

func (p *payloads) Set(s string) error {
	b, err := strconv.Unquote(`"` + strings.ReplaceAll(s, `"`, `\"`) + `"`)
	if err != nil {
		return err
	}
	*p = append(*p, []byte(b))
	return nil
}

func main() {
	var (
		addr    = flag.String("addr", "", "where to connect, HOST:PORT")
		n       = flag.Int("n", 1000, "how many connections")
		src     = flag.String("src", "", "source addresses, comma-separated (default: the system's choice)")
		workers = flag.Int("workers", 32, "dials at once")
		send    payloads
	)
	flag.Var(&send, "payload", "what connection i sends, in turn (Go escapes; repeat the flag)")
	flag.Parse()
	if len(send) == 0 {
		send = payloads{nil}
	}
	var sources []string
	if *src != "" {
		sources = strings.Split(*src, ",")
	}
	var (
		held, failed atomic.Int64
		mu           sync.Mutex
		conns        []net.Conn
		next         atomic.Int64
		wg           sync.WaitGroup
	)
	for range *workers {
		wg.Go(func() {
			buf := make([]byte, 512)
			for {
				i := int(next.Add(1) - 1)
				if i >= *n {
					return
				}
				d := net.Dialer{Timeout: 10 * time.Second}
				if sources != nil {
					d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(sources[i%len(sources)])}
				}
				c, err := d.Dial("tcp", *addr)
				if err != nil {
					failed.Add(1)
					continue
				}
				if p := send[i%len(send)]; len(p) > 0 {
					c.Write(p)
					// Read the reply, if one comes at once, so that the
					// connection is idle afterwards.
					c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
					c.Read(buf)
					c.SetReadDeadline(time.Time{})
				}
				held.Add(1)
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	fmt.Printf("held %d failed %d\n", held.Load(), failed.Load())
	io.Copy(io.Discard, os.Stdin)
	_ = conns // closed by the exit
}
