//go:build coredns

package thirdparty

// namespace prefixes the plugin's metrics; see namespace.go.
const namespace = "coredns"
