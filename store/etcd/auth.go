package etcd

import (
	"context"
	"errors"
	"sync"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc"
)

// auth logs in to etcd with a user and password and gives every request
// the token. clientv3 would do it, but its New waits for etcd to answer (a
// replica must start while etcd is down), and it sends the stale token
// along with the new login, which an etcd that restarted (and forgot its
// tokens) refuses for good. Here the login is done by the first request
// that needs it, and again by any request whose token etcd refuses.
type auth struct {
	user, password string

	mu       sync.Mutex
	token    string
	loggedIn bool // token is etcd's answer ("" with authentication off)
}

const authenticate = "/etcdserverpb.Auth/Authenticate"

// noToken marks the context of a login, which must not carry a stale token.
type noToken struct{}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (a *auth) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	if ctx.Value(noToken{}) != nil {
		return nil, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token == "" {
		return nil, nil
	}
	return map[string]string{rpctypes.TokenFieldNameGRPC: a.token}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: etcd
// accepts passwords over plain HTTP, and so does etcdctl.
func (a *auth) RequireTransportSecurity() bool { return false }

// unary logs in before a request if need be, and again when etcd refuses
// the token. clientv3 chains it inside its retries, so it runs on each.
func (a *auth) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if method == authenticate {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	token, err := a.login(ctx, cc, "", false)
	if err != nil {
		return err
	}
	err = invoker(ctx, method, req, reply, cc, opts...)
	if !refused(err) {
		return err
	}
	if _, err := a.login(ctx, cc, token, true); err != nil {
		return err
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// stream logs in before a stream (a watch) if need be. A watch whose token
// is refused ends with the error; the watch loop starts it again after a
// request, which logs in again.
func (a *auth) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if _, err := a.login(ctx, cc, "", false); err != nil {
		return nil, err
	}
	return streamer(ctx, desc, cc, method, opts...)
}

// login returns the token, logging in first when there is none yet or, if
// again, when the token is still the refused one. Logins run unlocked, so
// that none waits for another's timeout; the last one's token is kept.
func (a *auth) login(ctx context.Context, cc *grpc.ClientConn, refusedToken string, again bool) (string, error) {
	a.mu.Lock()
	token, loggedIn := a.token, a.loggedIn
	a.mu.Unlock()
	if loggedIn && !(again && token == refusedToken) {
		return token, nil
	}
	resp, err := pb.NewAuthClient(cc).Authenticate(context.WithValue(ctx, noToken{}, true),
		&pb.AuthenticateRequest{Name: a.user, Password: a.password}, grpc.WaitForReady(true))
	switch err := rpctypes.Error(err); {
	case errors.Is(err, rpctypes.ErrAuthNotEnabled):
		token = ""
	case err != nil:
		return "", err
	default:
		token = resp.Token
	}
	a.mu.Lock()
	a.token, a.loggedIn = token, true
	a.mu.Unlock()
	return token, nil
}

// refused says whether etcd refused a request for its token.
func refused(err error) bool {
	err = rpctypes.Error(err)
	return errors.Is(err, rpctypes.ErrInvalidAuthToken) || errors.Is(err, rpctypes.ErrUserEmpty) ||
		errors.Is(err, rpctypes.ErrAuthOldRevision)
}
