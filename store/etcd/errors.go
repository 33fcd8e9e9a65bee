package etcd

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tpdns/tpdns/store"
)

// wrap gives err the endpoints as context, and store.ErrUnavailable when it
// says etcd could not be reached.
func (s *Store) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case unavailable(err):
		return fmt.Errorf("store etcd %s: %w: %v", s.endpoints, store.ErrUnavailable, err)
	}
	return s.errorf("%w", err)
}

// unavailable says whether err means that etcd did not answer (or had no
// leader to answer with), rather than that it refused the request.
func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	code := status.Code(err)
	var etcdErr rpctypes.EtcdError
	if errors.As(err, &etcdErr) {
		code = etcdErr.Code()
	}
	return code == codes.Unavailable || code == codes.DeadlineExceeded
}
