package prometheus

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHistogramVecExposesAsClientGolangs: the same observations make the
// same exposition as client_golang's HistogramVec would: name, help, type,
// labels, buckets, count and sum.
func TestHistogramVecExposesAsClientGolangs(t *testing.T) {
	const name, help = "tpdns_test_duration_seconds", "Histogram of test durations."
	ours := newHistogramVec(name, help, []string{"server", "type"}, durationBuckets, 1e9)
	theirs := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: durationBuckets}, []string{"server", "type"})
	for _, o := range []struct {
		server, typ string
		took        time.Duration
		n           uint64
	}{
		{"dns://a", "A", 250 * time.Microsecond, 3}, // on a bound: in its bucket
		{"dns://a", "A", 251 * time.Microsecond, 1},
		{"dns://a", "SRV", 7 * time.Millisecond, 2},
		{"dns://b", "A", 0, 1},
		{"dns://b", "A", 10 * time.Second, 1}, // above every bound
	} {
		ours.with(o.server, o.typ).observe(uint64(o.took), o.n)
		for range o.n {
			theirs.WithLabelValues(o.server, o.typ).Observe(o.took.Seconds())
		}
	}
	want, got := exposition(t, theirs), exposition(t, ours)
	assert.Equal(t, want, got)
	assert.Equal(t, 3*19, strings.Count(got, "\n")-2, "three series of 16 buckets, +Inf, sum and count")
}

// exposition is what /metrics shows of c, alone in a registry.
func exposition(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	w := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, 200, w.Code)
	return w.Body.String()
}

// TestTallyAddsAsObserve: a tally added at once counts as its observations
// one by one.
func TestTallyAddsAsObserve(t *testing.T) {
	vec := newHistogramVec("tpdns_test_size_bytes", "Sizes.", []string{"proto"}, sizeBuckets, 1)
	one, batch := vec.with("one"), vec.with("batch")
	var tl tally
	for _, size := range []uint64{0, 29, 100, 101, 511, 512, 64000, 64001, 70000} {
		one.observe(size, 1)
		tl.observe(batch, size)
	}
	tl.add(batch)
	for range 2 {
		c1, s1, b1 := one.read(sizeBuckets)
		c2, s2, b2 := batch.read(sizeBuckets)
		assert.Equal(t, []any{c1, s1, b1}, []any{c2, s2, b2})
		var empty tally
		empty.add(batch) // adds nothing
	}
}
