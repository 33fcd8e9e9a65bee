package store

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// snapshotVersion is the version of the snapshot file's format; a file of
// another version is refused.
const snapshotVersion = 1

// snapshotFile is the form of a snapshot file. The documents are kept as
// the JSON they are.
type snapshotFile struct {
	Version   int                                    `json:"version"`
	Loaded    time.Time                              `json:"loaded"`
	Revision  int64                                  `json:"revision"`
	Services  map[string]json.RawMessage             `json:"services"`
	Endpoints map[string]map[string]snapshotEndpoint `json:"endpoints"`
}

type snapshotEndpoint struct {
	Doc     json.RawMessage `json:"doc"`
	Expires time.Time       `json:"expires"` // zero when left out
}

// WriteSnapshot writes snap, read from the store at loaded, to the file
// path, atomically: a temporary file beside it, synced, then renamed over
// it, so that a reader finds the previous snapshot or this one whole. The
// file is readable by its owner only: documents hold secrets. A document
// that is not JSON (written to the store behind tpdns's back) is left out,
// as the registry would leave it out.
func WriteSnapshot(path string, snap *Snapshot, loaded time.Time) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("snapshot %s: %w", path, err)
		}
	}()
	// CreateTemp makes it 0600 already; the documents hold secrets, so
	// this does not rest on that.
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err := encodeSnapshot(w, snap, loaded); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename is durable once the directory is synced; a failure here
	// leaves a whole file, old or new.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// encodeSnapshot writes the snapshotFile form of snap a document at a
// time: a large store is tens of megabytes, not worth holding twice.
func encodeSnapshot(w *bufio.Writer, snap *Snapshot, loaded time.Time) error {
	head, err := json.Marshal(struct {
		Version  int       `json:"version"`
		Loaded   time.Time `json:"loaded"`
		Revision int64     `json:"revision"`
	}{snapshotVersion, loaded, snap.Revision})
	if err != nil {
		return err
	}
	w.Write(head[:len(head)-1]) // without its "}"
	w.WriteString(`,"services":{`)
	first := true
	for name, doc := range snap.Services {
		if !json.Valid(doc) {
			continue
		}
		writeKey(w, &first, name)
		w.Write(doc)
	}
	w.WriteString(`},"endpoints":{`)
	first = true
	for service, eps := range snap.Endpoints {
		writeKey(w, &first, service)
		w.WriteByte('{')
		firstEp := true
		for addr, ep := range eps {
			if !json.Valid(ep.Doc) {
				continue
			}
			writeKey(w, &firstEp, addr)
			w.WriteString(`{"doc":`)
			w.Write(ep.Doc)
			if !ep.Expires.IsZero() {
				b, err := ep.Expires.MarshalJSON()
				if err != nil {
					return fmt.Errorf("endpoint %s/%s: %w", service, addr, err)
				}
				w.WriteString(`,"expires":`)
				w.Write(b)
			}
			w.WriteByte('}')
		}
		w.WriteByte('}')
	}
	_, err = w.WriteString("}}\n")
	return err // a bufio.Writer keeps its first error
}

// writeKey writes an object's key, after a comma unless it is the first.
func writeKey(w *bufio.Writer, first *bool, key string) {
	if !*first {
		w.WriteByte(',')
	}
	*first = false
	b, _ := json.Marshal(key) // a string always encodes
	w.Write(b)
	w.WriteByte(':')
}

// ReadSnapshot reads a snapshot WriteSnapshot wrote to path, and when it
// was read from the store.
func ReadSnapshot(path string) (snap *Snapshot, loaded time.Time, err error) {
	b, err := os.ReadFile(path) // sized at once: a Decoder's buffer would grow to it in steps
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("snapshot %s: %w", path, err)
	}
	var sf snapshotFile
	if err := json.Unmarshal(b, &sf); err != nil {
		return nil, time.Time{}, fmt.Errorf("snapshot %s: %w", path, err)
	}
	if sf.Version != snapshotVersion {
		return nil, time.Time{}, fmt.Errorf("snapshot %s: version %d, want %d", path, sf.Version, snapshotVersion)
	}
	if sf.Revision <= 0 {
		return nil, time.Time{}, fmt.Errorf("snapshot %s: revision %d, want > 0", path, sf.Revision)
	}
	snap = &Snapshot{
		Revision:  sf.Revision,
		Services:  make(map[string][]byte, len(sf.Services)),
		Endpoints: make(map[string]map[string]Endpoint, len(sf.Endpoints)),
	}
	for name, doc := range sf.Services {
		snap.Services[name] = doc
	}
	for service, eps := range sf.Endpoints {
		m := make(map[string]Endpoint, len(eps))
		for addr, ep := range eps {
			m[addr] = Endpoint{Doc: ep.Doc, Expires: ep.Expires}
		}
		snap.Endpoints[service] = m
	}
	return snap, sf.Loaded, nil
}

// SnapshotWriter writes the snapshots it is given to a file in the
// background, one at a time: a snapshot given while one is written waits,
// and a newer one replaces it, so a burst of loads writes the file at most
// twice. Save never waits for the disk.
type SnapshotWriter struct {
	path  string
	write func(path string, snap *Snapshot, loaded time.Time) error // WriteSnapshot; tests hold it
	// failed is called from the writing goroutine, see NewSnapshotWriter.
	failed func(error)

	mu      sync.Mutex
	next    *Snapshot // waiting to be written; nil: none
	loaded  time.Time // when next was read
	writing bool
	done    sync.WaitGroup
	// failing is whether the last write failed; only the one goroutine
	// writing reads and sets it.
	failing bool
}

// NewSnapshotWriter returns a writer to path. failed (nil: none) is told
// of the first write that fails, and with nil of the first that succeeds
// after failures, so that a lasting failure is reported once.
func NewSnapshotWriter(path string, failed func(error)) *SnapshotWriter {
	if failed == nil {
		failed = func(error) {}
	}
	return &SnapshotWriter{path: path, write: WriteSnapshot, failed: failed}
}

// Path returns the file the writer writes.
func (w *SnapshotWriter) Path() string { return w.path }

// Save writes snap, read from the store at loaded, to the file soon,
// unless a newer one comes first. snap must not change afterwards.
func (w *SnapshotWriter) Save(snap *Snapshot, loaded time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.next, w.loaded = snap, loaded
	if w.writing {
		return // the writing goroutine takes it next
	}
	w.writing = true
	w.done.Add(1)
	go w.run()
}

// run writes the newest snapshot until none waits.
func (w *SnapshotWriter) run() {
	defer w.done.Done()
	for {
		w.mu.Lock()
		snap, loaded := w.next, w.loaded
		w.next = nil
		if snap == nil {
			w.writing = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		err := w.write(w.path, snap, loaded)
		if (err != nil) != w.failing {
			w.failed(err)
		}
		w.failing = err != nil
	}
}

// Wait returns once no write is in flight.
func (w *SnapshotWriter) Wait() { w.done.Wait() }
