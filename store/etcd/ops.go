package etcd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tpdns/tpdns/store"
)

// Load implements store.Store: a read of the whole prefix at one
// revision, in pages of defaultPage keys, so that neither etcd nor tpdns
// holds a large store in one response. Endpoints whose lease ran out are
// gone from etcd, so none are expired here; their Expires is left zero.
func (s *Store) Load(ctx context.Context) (*store.Snapshot, error) {
	var snap *store.Snapshot
	err := s.do(ctx, func(ctx context.Context, cli *clientv3.Client) error {
		for {
			var err error
			snap, err = s.load(ctx, cli)
			// Compacted past the first page's revision while reading
			// the rest: read again, at the revision of now.
			if !errors.Is(rpctypes.Error(err), rpctypes.ErrCompacted) {
				return err
			}
		}
	})
	if err != nil {
		return nil, err
	}
	s.rev.Store(snap.Revision)
	return snap, nil
}

// load reads the registry's two directories page by page, every page at
// the first one's revision. The prefix holds other keys too (shared
// probing's), which are not read.
func (s *Store) load(ctx context.Context, cli *clientv3.Client) (*store.Snapshot, error) {
	snap := &store.Snapshot{Services: map[string][]byte{}, Endpoints: map[string]map[string]store.Endpoint{}}
	var rev []clientv3.OpOption
	for _, dir := range []string{servicesDir, endpointsDir} {
		dir = s.prefix + dir
		opts := append([]clientv3.OpOption{clientv3.WithRange(clientv3.GetPrefixRangeEnd(dir)), clientv3.WithLimit(s.page)}, rev...)
		for from := dir; ; {
			resp, err := cli.Get(ctx, from, opts...)
			if err != nil {
				return nil, err
			}
			if snap.Revision == 0 {
				snap.Revision = resp.Header.Revision
				rev = []clientv3.OpOption{clientv3.WithRev(snap.Revision)}
				opts = append(opts, rev...)
			}
			for _, kv := range resp.Kvs {
				s.add(snap, string(kv.Key), kv.Value)
			}
			if !resp.More || len(resp.Kvs) == 0 {
				break
			}
			from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00" // the next key
		}
	}
	return snap, nil
}

// PutService implements store.Store.
func (s *Store) PutService(ctx context.Context, name string, doc []byte) (created bool, rev int64, err error) {
	if err := s.checkName("service name", name); err != nil {
		return false, 0, err
	}
	err = s.do(ctx, func(ctx context.Context, cli *clientv3.Client) error {
		resp, err := cli.Put(ctx, s.serviceKey(name), string(doc), clientv3.WithPrevKV())
		if err != nil {
			return err
		}
		created, rev = resp.PrevKv == nil, resp.Header.Revision
		return nil
	})
	return created, rev, err
}

// DeleteService implements store.Store: the service and its endpoints go
// in one transaction, so no replica ever sees endpoints without their
// service.
func (s *Store) DeleteService(ctx context.Context, name string) (existed bool, rev int64, err error) {
	if err := s.checkName("service name", name); err != nil {
		return false, 0, err
	}
	err = s.do(ctx, func(ctx context.Context, cli *clientv3.Client) error {
		resp, err := cli.Txn(ctx).Then(
			clientv3.OpDelete(s.serviceKey(name)),
			clientv3.OpDelete(s.endpointsKey(name), clientv3.WithPrefix(), clientv3.WithPrevKV()),
		).Commit()
		if err != nil {
			return err
		}
		existed, rev = resp.Responses[0].GetResponseDeleteRange().Deleted > 0, resp.Header.Revision
		for _, kv := range resp.Responses[1].GetResponseDeleteRange().PrevKvs {
			revoke(ctx, cli, clientv3.LeaseID(kv.Lease))
		}
		return nil
	})
	return existed, rev, err
}

// PutEndpoint implements store.Store. With a ttl the endpoint takes a lease
// of its own, which etcd raises to its minimum TTL if need be (1.5 election
// timeouts, 2s with etcd's defaults).
func (s *Store) PutEndpoint(ctx context.Context, service, address string, doc []byte, ttl time.Duration) (created bool, rev int64, err error) {
	if err := s.checkName("service name", service); err != nil {
		return false, 0, err
	}
	if err := s.checkName("endpoint address", address); err != nil {
		return false, 0, err
	}
	err = s.do(ctx, func(ctx context.Context, cli *clientv3.Client) error {
		opts := []clientv3.OpOption{clientv3.WithPrevKV()}
		var lease clientv3.LeaseID
		if ttl > 0 {
			grant, err := cli.Grant(ctx, int64((ttl+time.Second-1)/time.Second))
			if err != nil {
				return err
			}
			lease = grant.ID
			opts = append(opts, clientv3.WithLease(lease))
		}
		resp, err := cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(s.serviceKey(service)), ">", 0)).
			Then(clientv3.OpPut(s.endpointKey(service, address), string(doc), opts...)).
			Commit()
		if err != nil {
			// The put may have been committed all the same: keep the
			// lease, which expires by itself.
			return err
		}
		if !resp.Succeeded {
			revoke(ctx, cli, lease)
			return fmt.Errorf("service %q: %w", service, store.ErrNoService)
		}
		prev := resp.Responses[0].GetResponsePut().PrevKv
		created, rev = prev == nil, resp.Header.Revision
		if prev != nil {
			revoke(ctx, cli, clientv3.LeaseID(prev.Lease))
		}
		return nil
	})
	return created, rev, err
}

// DeleteEndpoint implements store.Store.
func (s *Store) DeleteEndpoint(ctx context.Context, service, address string) (existed bool, rev int64, err error) {
	if err := s.checkName("service name", service); err != nil {
		return false, 0, err
	}
	if err := s.checkName("endpoint address", address); err != nil {
		return false, 0, err
	}
	err = s.do(ctx, func(ctx context.Context, cli *clientv3.Client) error {
		resp, err := cli.Delete(ctx, s.endpointKey(service, address), clientv3.WithPrevKV())
		if err != nil {
			return err
		}
		existed, rev = resp.Deleted > 0, resp.Header.Revision
		for _, kv := range resp.PrevKvs {
			revoke(ctx, cli, clientv3.LeaseID(kv.Lease))
		}
		return nil
	})
	return existed, rev, err
}

// revoke ends a lease that no key of ours holds any more. Failing is no
// harm: the lease expires by itself.
func revoke(ctx context.Context, cli *clientv3.Client, id clientv3.LeaseID) {
	if id != clientv3.NoLease {
		cli.Revoke(ctx, id)
	}
}

// Ping reports whether etcd answers, without reading the registry: a
// watch waits quietly while etcd is away, so the plugin asks.
func (s *Store) Ping(ctx context.Context) error {
	return s.do(ctx, func(ctx context.Context, cli *clientv3.Client) error {
		_, err := cli.Get(ctx, s.serviceKey(""), clientv3.WithCountOnly())
		return err
	})
}
