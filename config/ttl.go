package config

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// MinTTL and MaxTTL bound an endpoint's heartbeat ttl, after which it
// expires unless put again: 0 would not be one, and one longer than a day
// would make the endpoint as good as permanent. (A service's ttl is a DNS
// TTL: 0 to 2^31-1, as RFC 2181 says.)
const (
	MinTTL = time.Second
	MaxTTL = 24 * time.Hour
)

// ttlProblem checks a ttl given as a whole number of seconds, written as
// text: v is the text parsed, or err why it does not parse (strconv's
// ErrRange for a number too large for 64 bits, ErrSyntax for a fraction).
// It returns why the number is no ttl, or "".
func ttlProblem(text string, v int64, err error) string {
	lo, hi := int64(MinTTL/time.Second), int64(MaxTTL/time.Second)
	switch {
	case errors.Is(err, strconv.ErrSyntax):
		return text + " is not a whole number of seconds"
	case err != nil, v < lo, v > hi:
		return fmt.Sprintf("%s is out of range %d-%d (seconds: %s to %s)", text, lo, hi, durationString(MinTTL), durationString(MaxTTL))
	}
	return ""
}
