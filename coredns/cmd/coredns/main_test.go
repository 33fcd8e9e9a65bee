package main

import (
	"slices"
	"testing"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/stretchr/testify/assert"
)

// TestThirdpartyRunsBeforeCache: thirdparty comes after the plugins that
// decide who may ask (acl, tsig) and just before cache, so that no cache
// keeps its answers (SPEC section 2).
func TestThirdpartyRunsBeforeCache(t *testing.T) {
	d := dnsserver.Directives
	i := slices.Index(d, "thirdparty")
	if assert.GreaterOrEqual(t, i, 0) && assert.Less(t, i+1, len(d)) {
		assert.Equal(t, "cache", d[i+1])
	}
	for _, before := range []string{"prometheus", "log", "acl", "tsig", "rewrite"} {
		j := slices.Index(d, before)
		assert.True(t, j >= 0 && j < i, "%s at %d, thirdparty at %d", before, j, i)
	}
	assert.Equal(t, -1, slices.Index(d[i+1:], "thirdparty"), "thirdparty is in the order once")
}
