package tsig

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// CoreDNS's tsig plugin has no metrics; these say how signed and unsigned
// queries fared, so that a key rolled out wrong shows before users do.
var (
	verifications = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "tsig", Name: "verifications_total",
		Help: "Counter of signed queries by the result of their verification (NOERROR, BADKEY, BADSIG, BADTIME).",
	}, []string{"server", "result"})
	requestsRefused = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "tpdns", Subsystem: "tsig", Name: "unsigned_refused_total",
		Help: "Counter of unsigned queries refused because require asks for a signature.",
	}, []string{"server"})
)
