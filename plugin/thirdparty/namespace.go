//go:build !coredns

package thirdparty

// namespace prefixes the plugin's metrics: tpdns_thirdparty_* in tpdns,
// coredns_thirdparty_* in a CoreDNS build (built with -tags coredns).
const namespace = "tpdns"
