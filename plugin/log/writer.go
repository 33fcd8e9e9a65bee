package log

import (
	stdlog "log"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxBuffered is how much of the log a lineWriter holds while its
// goroutine writes: past it, a line is dropped and counted, so that a
// slow log (a full pipe) never holds up the answers.
const maxBuffered = 4 << 20

// lineWriter writes the log lines of one log directive from a goroutine
// of its own: the answering loops append lines to a buffer, which the
// goroutine hands to the standard logger's writer in one write. Lines
// carry the standard logger's prefix and date/time flags, as its Print
// would write them.
type lineWriter struct {
	dropped prometheus.Counter

	mu           sync.Mutex
	buf          []byte
	spare        []byte
	droppedLines int // since the last flush
	stopped      bool
	wake         chan struct{} // a write is due
	done         chan struct{} // the goroutine has returned
}

func newLineWriter(dropped prometheus.Counter) *lineWriter {
	return &lineWriter{dropped: dropped, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// start runs the goroutine; stop ends it.
func (w *lineWriter) start() {
	go w.run()
}

// stop writes what is buffered and stops the goroutine; lines appended
// after it are written at once.
func (w *lineWriter) stop() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.stopped = true
	w.mu.Unlock()
	close(w.wake)
	<-w.done
}

func (w *lineWriter) run() {
	defer close(w.done)
	for range w.wake {
		w.flush()
	}
	w.flush()
}

// flush writes what is buffered, and says how many lines were dropped
// since the last flush.
func (w *lineWriter) flush() {
	w.mu.Lock()
	out, dropped := w.buf, w.droppedLines
	w.buf, w.spare, w.droppedLines = w.spare[:0], nil, 0
	w.mu.Unlock()
	if dropped > 0 {
		out = append(out, "[WARNING] log: "...)
		out = strconv.AppendInt(out, int64(dropped), 10)
		out = append(out, " lines dropped: the log's writer falls behind\n"...)
	}
	if len(out) > 0 {
		_, _ = stdlog.Writer().Write(out) // as log.Print, which ignores its writer's errors
	}
	if cap(out) > maxBuffered {
		out = nil // a burst's memory goes back
	}
	w.mu.Lock()
	w.spare = out[:0]
	w.mu.Unlock()
}

// appendLine appends one line, made by line after the header (the
// logger's prefix and time), and wakes the goroutine.
func (w *lineWriter) appendLine(line func(b []byte) []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		_, _ = stdlog.Writer().Write(newline(line(appendHeader(nil))))
		return
	}
	if len(w.buf) >= maxBuffered {
		w.droppedLines++
		w.dropped.Inc()
		return
	}
	first := len(w.buf) == 0
	w.buf = newline(line(appendHeader(w.buf)))
	if first {
		select { // under the lock: stop closes wake only once stopped is set
		case w.wake <- struct{}{}:
		default:
		}
	}
}

func newline(b []byte) []byte {
	if len(b) == 0 || b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return b
}

// appendHeader appends what the standard logger puts before a message:
// its prefix and, as its flags ask, the date and time.
func appendHeader(b []byte) []byte {
	flags, prefix := stdlog.Flags(), stdlog.Prefix()
	if flags&stdlog.Lmsgprefix == 0 {
		b = append(b, prefix...)
	}
	if flags&(stdlog.Ldate|stdlog.Ltime|stdlog.Lmicroseconds) != 0 {
		now := time.Now()
		if flags&stdlog.LUTC != 0 {
			now = now.UTC()
		}
		if flags&stdlog.Ldate != 0 {
			b = now.AppendFormat(b, "2006/01/02 ")
		}
		if flags&(stdlog.Ltime|stdlog.Lmicroseconds) != 0 {
			if flags&stdlog.Lmicroseconds != 0 {
				b = now.AppendFormat(b, "15:04:05.000000 ")
			} else {
				b = now.AppendFormat(b, "15:04:05 ")
			}
		}
	}
	if flags&stdlog.Lmsgprefix != 0 {
		b = append(b, prefix...)
	}
	return b
}
