package prometheus

import (
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// histogramVec is a vector of histograms of whole numbers of a unit
// (nanoseconds, bytes), made here rather than with client_golang's
// HistogramVec so that one add can count many observations: the packet
// path's replies are counted a batch at a time (see reportBatch), the
// replies of a batch share their duration and mostly their size buckets,
// and client_golang's Histogram takes one observation at a time, at four
// atomic operations each on memory that every reader shares. It exposes
// the same series as client_golang's would.
type histogramVec struct {
	desc   *prometheus.Desc
	bounds []uint64  // the buckets' upper bounds (inclusive), in units
	upper  []float64 // the same, exposed
	units  float64   // units in one exposed unit (1e9 nanoseconds a second)

	mu     sync.Mutex
	series map[string]*histogram // by label values, joined by "\xff"
}

// histogram is one series of a histogramVec.
type histogram struct {
	bounds []uint64
	labels []string
	counts []atomic.Uint64 // by bucket, not cumulative; the last is above every bound
	sum    atomic.Uint64   // in units
}

// newHistogramVec returns a histogram vector of observations in units, of
// which there are units in the exposed unit of bounds.
func newHistogramVec(name, help string, labels []string, bounds []float64, units float64) *histogramVec {
	v := &histogramVec{
		desc:   prometheus.NewDesc(name, help, labels, nil),
		upper:  bounds,
		units:  units,
		series: map[string]*histogram{},
	}
	for _, b := range bounds {
		v.bounds = append(v.bounds, uint64(math.Round(b*units)))
	}
	return v
}

// with returns the series of the label values, made on first use.
func (v *histogramVec) with(labels ...string) *histogram {
	key := strings.Join(labels, "\xff")
	v.mu.Lock()
	defer v.mu.Unlock()
	h, ok := v.series[key]
	if !ok {
		h = &histogram{bounds: v.bounds, labels: labels, counts: make([]atomic.Uint64, len(v.bounds)+1)}
		v.series[key] = h
	}
	return h
}

// Describe implements prometheus.Collector.
func (v *histogramVec) Describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

// Collect implements prometheus.Collector. The count is the sum of the
// buckets; the sum may miss, or have, an observation made while it reads.
func (v *histogramVec) Collect(ch chan<- prometheus.Metric) {
	v.mu.Lock()
	series := slices.Collect(maps.Values(v.series))
	v.mu.Unlock()
	for _, h := range series {
		count, sum, buckets := h.read(v.upper)
		ch <- prometheus.MustNewConstHistogram(v.desc, count, float64(sum)/v.units, buckets, h.labels...)
	}
}

// read returns the count, the sum, and the cumulative count of each
// bucket by its exposed upper bound.
func (h *histogram) read(upper []float64) (count, sum uint64, buckets map[float64]uint64) {
	sum = h.sum.Load()
	buckets = make(map[float64]uint64, len(upper))
	for i, b := range upper {
		count += h.counts[i].Load()
		buckets[b] = count
	}
	return count + h.counts[len(upper)].Load(), sum, buckets
}

// bucket is the index of the bucket of v.
func (h *histogram) bucket(v uint64) int {
	for i, b := range h.bounds {
		if v <= b {
			return i
		}
	}
	return len(h.bounds)
}

// observe counts n observations of v.
func (h *histogram) observe(v, n uint64) {
	h.counts[h.bucket(v)].Add(n)
	h.sum.Add(v * n)
}

// tally is the observations of one batch for one histogram, added to it at
// once (add); its zero value is empty.
type tally struct {
	counts [maxBuckets + 1]uint32 // by bucket
	sum    uint64
}

// maxBuckets is the most bounds of a histogram that tallies.
const maxBuckets = 16

// observe counts an observation of v, in the buckets of h.
func (t *tally) observe(h *histogram, v uint64) {
	t.counts[h.bucket(v)]++
	t.sum += v
}

// add adds t to h: one atomic operation a bucket used and one for the sum.
func (t *tally) add(h *histogram) {
	for i, n := range t.counts[:len(h.counts)] {
		if n > 0 {
			h.counts[i].Add(uint64(n))
		}
	}
	if t.sum > 0 {
		h.sum.Add(t.sum)
	}
}
