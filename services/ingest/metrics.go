package ingest

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	events         *prometheus.CounterVec
	rejects        *prometheus.CounterVec
	publish        prometheus.Histogram
	request        prometheus.Histogram
	bodies         *prometheus.CounterVec
	indexErrors    prometheus.Counter
	catchUp        prometheus.Counter
	shed           prometheus.Counter
	inFlightBytes  prometheus.Gauge
	inFlightEvents prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledgerline_ingest_events_total", Help: "Events answered by the ingest service, by status.",
		}, []string{"status"}),
		rejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledgerline_ingest_rejects_total", Help: "Rejected events, by reason code.",
		}, []string{"code"}),
		publish: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ledgerline_ingest_publish_seconds", Help: "Time from publishing a batch to JetStream to its last acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		request: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ledgerline_ingest_batch_seconds", Help: "Time to handle one batch of events, validation to answer.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		bodies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledgerline_ingest_rejected_bodies_total", Help: "Request bodies refused as a whole (malformed, too large, too many events), by code.",
		}, []string{"code"}),
		indexErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ledgerline_ingest_index_errors_total", Help: "Batches whose event index write failed (repaired by the catch-up).",
		}),
		catchUp: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ledgerline_ingest_index_repaired_total", Help: "Events the index catch-up found missing and indexed.",
		}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ledgerline_ingest_shed_requests_total", Help: "POST /v1/events requests shed (429 overloaded) by admission control: no room within ingest.max_in_flight_bytes or ingest.max_in_flight_events in ingest.max_queue_wait.",
		}),
		inFlightBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ledgerline_ingest_in_flight_bytes", Help: "Request bytes admitted and being worked on now (at most ingest.max_in_flight_bytes).",
		}),
		inFlightEvents: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ledgerline_ingest_in_flight_events", Help: "Events admitted and being worked on now (at most ingest.max_in_flight_events).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.rejects, m.bodies, m.publish, m.request, m.indexErrors, m.catchUp, m.shed, m.inFlightBytes, m.inFlightEvents)
	}
	return m
}

func (m *metrics) observe(results []Result, took time.Duration) {
	counts := map[Status]int{}
	for _, r := range results {
		counts[r.Status]++
		if r.Status == StatusRejected {
			m.rejects.WithLabelValues(r.Code).Inc()
		}
	}
	for st, n := range counts {
		m.events.WithLabelValues(string(st)).Add(float64(n))
	}
	m.request.Observe(took.Seconds())
}
