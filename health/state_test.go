package health

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestRecord(t *testing.T) {
	// Each row is a sequence of probe results (+ ok, - failed) and the
	// states after each, with rise 2 and fall 3.
	for _, c := range []struct{ results, states string }{
		{"+", "H"},
		{"-", "U"}, // the first result decides at once
		{"+-", "HH"},
		{"+--", "HHH"},
		{"+---", "HHHU"},
		{"+--+---", "HHHHHHU"}, // a success resets the failures
		{"-+", "UU"},
		{"-++", "UUH"},
		{"-+-++", "UUUUH"},
	} {
		var s Status
		var got strings.Builder
		for i, r := range c.results {
			ok := r == '+'
			changed := s.record(Result{OK: ok, Err: map[bool]string{false: "down"}[ok]}, time.Unix(int64(i), 0), 2, 3)
			got.WriteString(strings.ToUpper(s.State.String()[:1]))
			assert.Equal(t, c.states[i] != prev(c.states, i), changed, "%s at %d", c.results, i)
		}
		assert.Equal(t, c.states, got.String(), c.results)
		if c.results[len(c.results)-1] == '-' {
			assert.Equal(t, "down", s.LastError)
			assert.Zero(t, s.Successes)
		} else {
			assert.Empty(t, s.LastError)
			assert.Zero(t, s.Failures)
		}
	}
}

// prev is the state before result i; unknown before the first.
func prev(states string, i int) byte {
	if i == 0 {
		return '?'
	}
	return states[i-1]
}
