package console

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The metrics the operations page shows, as /metrics names them.
const (
	metricIngestEvents  = "ledgerline_ingest_events_total" // by status
	metricRulesEvents   = "ledgerline_rules_events_total"
	metricContributions = "ledgerline_rules_contributions_total"
	metricRulesLag      = "ledgerline_rules_lag_events"
)

// sample is the values of the metrics at one moment; a metric this process
// does not register (a service it does not run) is absent.
type sample struct {
	at     time.Time
	values map[string]float64 // metric name, or name{status} for the ingest statuses
}

// sampler reads the registry /metrics serves every few seconds and keeps the
// last minute, from which the operations page computes rates.
type sampler struct {
	g       prometheus.Gatherer
	window  time.Duration
	mu      sync.Mutex
	samples []sample
}

func newSampler(g prometheus.Gatherer) *sampler { return &sampler{g: g, window: time.Minute} }

func (s *sampler) run(ctx context.Context, every time.Duration) {
	if s.g == nil {
		return
	}
	for {
		s.take(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// take reads the registry once.
func (s *sampler) take(now time.Time) {
	if s.g == nil {
		return
	}
	families, err := s.g.Gather()
	if err != nil && len(families) == 0 {
		return
	}
	sm := sample{at: now, values: map[string]float64{}}
	for _, mf := range families {
		switch mf.GetName() {
		case metricIngestEvents:
			for _, m := range mf.GetMetric() {
				sm.values[metricIngestEvents+"{"+label(m, "status")+"}"] += m.GetCounter().GetValue()
				sm.values[metricIngestEvents] += m.GetCounter().GetValue()
			}
		case metricRulesEvents, metricContributions:
			for _, m := range mf.GetMetric() {
				sm.values[mf.GetName()] += m.GetCounter().GetValue()
			}
		case metricRulesLag:
			for _, m := range mf.GetMetric() {
				sm.values[metricRulesLag] += m.GetGauge().GetValue()
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples = append(s.samples, sm)
	for len(s.samples) > 2 && now.Sub(s.samples[1].at) >= s.window {
		s.samples = s.samples[1:]
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// rate is a counter's increase per second over the samples kept.
type rate struct {
	Known    bool    // the metric is registered in this process and two samples exist
	PerSec   float64 // events per second over the window
	Total    float64 // the counter now
	Over     time.Duration
	Measured bool // the metric is registered here at all
}

// metricsView is what the operations page shows of the metrics.
type metricsView struct {
	Sampled        bool
	At             time.Time
	IngestAccepted rate
	IngestRejected rate
	IngestAll      rate
	RulesEvents    rate
	Contributions  rate
	Lag            float64
	LagKnown       bool
}

func (s *sampler) view() metricsView {
	s.mu.Lock()
	defer s.mu.Unlock()
	var v metricsView
	if len(s.samples) == 0 {
		return v
	}
	first, last := s.samples[0], s.samples[len(s.samples)-1]
	v.Sampled, v.At = true, last.at
	r := func(name string) rate {
		now, ok := last.values[name]
		out := rate{Measured: ok, Total: now}
		if then, had := first.values[name]; ok && had && last.at.After(first.at) {
			out.Known, out.Over = true, last.at.Sub(first.at)
			out.PerSec = (now - then) / out.Over.Seconds()
		}
		return out
	}
	v.IngestAccepted = r(metricIngestEvents + "{accepted}")
	v.IngestRejected = r(metricIngestEvents + "{rejected}")
	v.IngestAll = r(metricIngestEvents)
	v.RulesEvents = r(metricRulesEvents)
	v.Contributions = r(metricContributions)
	v.Lag, v.LagKnown = last.values[metricRulesLag]
	return v
}
