package thirdparty

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tpdns/tpdns/store"
)

// snapshotOff, as the path of store etcd's snapshot, turns it off.
const snapshotOff = "off"

// defaultSnapshotPath is the snapshot file of an etcd store whose Corefile
// does not name one: in the user's cache directory, named after the
// endpoints and the prefix, so that the stores of several configurations
// on one host keep apart.
func defaultSnapshotPath(o storeOptions) (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir = filepath.Join(dir, "tpdns")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(strings.Join(o.endpoints, ",") + "\x00" + o.prefix))
	return filepath.Join(dir, fmt.Sprintf("etcd-%x.snapshot", sum[:6])), nil
}

// openSnapshots makes the writer of the etcd store's snapshot file, unless
// it is off or has nowhere to go (then a replica starting while etcd is
// down serves the registry file alone, as without a snapshot).
func (tp *ThirdParty) openSnapshots() {
	o := tp.opts.store
	if o.kind != "etcd" || o.snapshot == snapshotOff {
		return
	}
	path := o.snapshot
	if path == "" {
		var err error
		if path, err = defaultSnapshotPath(o); err != nil {
			log.Printf("[WARNING] plugin/thirdparty: no snapshot of the etcd store is kept: %v", err)
			return
		}
	}
	tp.snapshots = store.NewSnapshotWriter(path, func(err error) {
		if err != nil {
			log.Printf("[WARNING] plugin/thirdparty: the snapshot of the etcd store is not written: %v", err)
		} else {
			log.Printf("[INFO] plugin/thirdparty: the snapshot of the etcd store is written again to %s", path)
		}
	})
}

// snapshotting is the store as the registry reads it: every snapshot read
// from it is also written to the snapshot file, in the background.
type snapshotting struct {
	store.Store
	w *store.SnapshotWriter
}

// Load implements store.Store.
func (s snapshotting) Load(ctx context.Context) (*store.Snapshot, error) {
	snap, err := s.Store.Load(ctx)
	if err == nil {
		s.w.Save(snap, time.Now())
	}
	return snap, err
}

// registryStore is st as the registry is to read it: through the snapshot
// writer, when there is one.
func (tp *ThirdParty) registryStore(st store.Store) store.Store {
	if tp.snapshots == nil {
		return st
	}
	return snapshotting{Store: st, w: tp.snapshots}
}

// serveSnapshot serves the snapshot file, stale, when nothing has been
// read from the store: a replica that starts while etcd cannot be reached
// answers the registry it last read rather than NXDOMAIN for every stored
// service. The store's first read replaces it whole. A file that cannot be
// read is reported and left alone.
func (tp *ThirdParty) serveSnapshot() {
	if tp.snapshots == nil {
		return
	}
	path := tp.snapshots.Path()
	snap, loaded, err := store.ReadSnapshot(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return
	case err != nil:
		log.Printf("[WARNING] plugin/thirdparty: %v; it is not served (it is written again once etcd is read)", err)
		return
	}
	invalid, applied := tp.reg.LoadStale(snap)
	if !applied {
		return
	}
	storeLoaded.Set(float64(loaded.UnixNano()) / 1e9)
	log.Printf("[WARNING] plugin/thirdparty: serving the snapshot of %s (revision %d, %s) because etcd cannot be reached; its answers are stale until etcd is read",
		loaded.Format(time.RFC3339), snap.Revision, path)
	logInvalid(invalid)
}
