package plugin

import "context"

type (
	serverKey struct{}
	zoneKey   struct{}
)

// WithServer returns a context that carries the server's address (as
// "dns://HOST:PORT") and the zone of the server block answering; the server
// makes one per zone when it starts, so queries do not allocate it.
func WithServer(ctx context.Context, server, zone string) context.Context {
	return context.WithValue(context.WithValue(ctx, serverKey{}, server), zoneKey{}, zone)
}

// Server returns the server address in ctx, for the "server" label of
// metrics; "" when there is none.
func Server(ctx context.Context) string {
	s, _ := ctx.Value(serverKey{}).(string)
	return s
}

// Zone returns the zone of the server block answering, for the "zone"
// label of metrics; "" when there is none.
func Zone(ctx context.Context) string {
	z, _ := ctx.Value(zoneKey{}).(string)
	return z
}
