package thirdparty

import (
	"bytes"
	"fmt"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEventHubDropsASlowStream: a stream eventBuffer publications behind
// is dropped at the next one, and counted; the others go on.
func TestEventHubDropsASlowStream(t *testing.T) {
	var h eventHub
	assert.False(t, h.active())
	fast, ok := h.subscribe(2)
	require.True(t, ok)
	slow, ok := h.subscribe(2)
	require.True(t, ok)
	_, ok = h.subscribe(2)
	assert.False(t, ok, "at the limit")
	before := testutil.ToFloat64(eventStreamsDropped)

	frames := []eventFrame{newFrame("", "registry", registryEvent{Generation: 7, Services: 1})}
	assert.Equal(t, "event: registry\ndata: {\"generation\":7,\"services\":1}\n\n", string(frames[0].data))
	for range eventBuffer {
		h.publish(frames)
		<-fast.frames
	}
	select {
	case <-slow.dropped:
		t.Fatal("dropped with room in its buffer")
	default:
	}
	h.publish(frames)
	<-fast.frames
	select {
	case <-slow.dropped:
	default:
		t.Fatal("not dropped when behind")
	}
	assert.Equal(t, before+1, testutil.ToFloat64(eventStreamsDropped))
	assert.True(t, h.active())
	h.unsubscribe(slow) // after the drop: nothing to do
	h.unsubscribe(fast)
	assert.False(t, h.active())
}

// TestEventStreamOfASlowClient: a client that reads nothing never holds
// up the publisher; its stream is dropped, and ends when the client goes.
func TestEventStreamOfASlowClient(t *testing.T) {
	tp := &ThirdParty{}
	a := &apiServer{tp: tp, limits: defaultAPILimits}
	tt := newTokenTable([]byte("t0ken"), nil)
	a.tokens.Store(&tt)
	srv := httptest.NewServer(a.routes())
	defer srv.Close()
	streams := testutil.ToFloat64(eventStreams)
	dropped := testutil.ToFloat64(eventStreamsDropped)

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.(*net.TCPConn).SetReadBuffer(4096))
	fmt.Fprintf(c, "GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0ken\r\n\r\n")
	require.Eventually(t, tp.events.active, 2*time.Second, time.Millisecond)
	assert.Equal(t, streams+1, testutil.ToFloat64(eventStreams))

	// 64 KiB a publication: the socket's buffers are full long before
	// the stream's buffer.
	big := []eventFrame{{data: append(bytes.Repeat([]byte(": padding\n"), 6554), '\n')}}
	published := 0
	for tp.events.active() {
		start := time.Now()
		tp.events.publish(big)
		require.Less(t, time.Since(start), 100*time.Millisecond, "the publisher waited")
		published++
		require.Less(t, published, 10_000)
	}
	assert.GreaterOrEqual(t, published, eventBuffer+1)
	assert.Equal(t, dropped+1, testutil.ToFloat64(eventStreamsDropped))
	c.Close()
	require.Eventually(t, func() bool { return testutil.ToFloat64(eventStreams) == streams }, 2*time.Second, time.Millisecond,
		"the stream ends when its client goes")
}
