package log

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// dropped counts the lines a log's writer could not keep up with.
var dropped = promauto.NewCounter(prometheus.CounterOpts{
	Namespace: "tpdns", Subsystem: "log", Name: "dropped_lines_total",
	Help: "Counter of log lines dropped because the log's writer fell behind.",
})
