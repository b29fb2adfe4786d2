package probes

import (
	"time"

	"github.com/apache/doris-entrypoint/supervisor"
	"github.com/apache/doris-entrypoint/supervisor/modes"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics is the endpoint's Prometheus registry: the check histograms and
// counters the check loop updates, and a collector that reads the rest
// from the Server at scrape time.
type metrics struct {
	reg      *prometheus.Registry
	duration *prometheus.HistogramVec
	failures *prometheus.CounterVec
}

const ns = "doris_entrypoint"

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "check_duration_seconds",
			Help:    "Duration of the background health checks.",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 2.5, 5, 10},
		}, []string{"check"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "check_failures_total", Help: "Background health checks that failed.",
		}, []string{"check"}),
	}
	for _, name := range s.CheckNames() {
		m.duration.WithLabelValues(name)
		m.failures.WithLabelValues(name)
	}
	m.reg.MustRegister(m.duration, m.failures, stateCollector{s},
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	return m
}

func (m *metrics) observe(check string, took time.Duration, ok bool) {
	m.duration.WithLabelValues(check).Observe(took.Seconds())
	if !ok {
		m.failures.WithLabelValues(check).Inc()
	}
}

var (
	descInfo     = prometheus.NewDesc(ns+"_info", "Version of doris-entrypoint and the component it supervises.", []string{"component", "version"}, nil)
	descMode     = prometheus.NewDesc(ns+"_mode", "1 for the current run mode (normal or debug).", []string{"mode"}, nil)
	descPhase    = prometheus.NewDesc(ns+"_phase", "1 for the current phase of the mode machine.", []string{"phase"}, nil)
	descChildUp  = prometheus.NewDesc(ns+"_child_up", "1 while the supervised FE/BE process runs.", nil, nil)
	descRestarts = prometheus.NewDesc(ns+"_child_restarts_total", "Starts of the child after the first (debug mode round trips).", nil, nil)
	descProbe    = prometheus.NewDesc(ns+"_probe_ok", "1 when the probe (live, ready, startup) would pass now.", []string{"probe"}, nil)
	descSignals  = prometheus.NewDesc(ns+"_signals_forwarded_total", "Signals forwarded to the child's process group.", nil, nil)
	descOrphans  = prometheus.NewDesc(ns+"_orphans_reaped_total", "Processes reaped that were not the main child.", nil, nil)
)

// stateCollector exports the Server's state at scrape time.
type stateCollector struct{ s *Server }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInfo, descMode, descPhase, descChildUp, descRestarts, descProbe, descSignals, descOrphans} {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// emit sends a constant metric; the descriptors are fixed above, so an
// error (a label count mismatch) cannot happen at run time and is dropped.
func emit(ch chan<- prometheus.Metric, d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
	if m, err := prometheus.NewConstMetric(d, t, v, labels...); err == nil {
		ch <- m
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	sn := s.snap()
	st := sn.state
	emit(ch, descInfo, prometheus.GaugeValue, 1, s.cfg.Component, s.cfg.Version)
	for _, m := range []string{"normal", "debug"} {
		emit(ch, descMode, prometheus.GaugeValue, b2f(st.Mode == m), m)
	}
	for _, p := range []string{modes.PhaseBootstrapping, modes.PhaseRunning, modes.PhaseDebug, modes.PhaseStopping, modes.PhaseExited} {
		emit(ch, descPhase, prometheus.GaugeValue, b2f(st.Phase == p), p)
	}
	up := (st.Phase == modes.PhaseRunning || st.Phase == modes.PhaseStopping) && st.ChildPID > 0
	emit(ch, descChildUp, prometheus.GaugeValue, b2f(up))
	emit(ch, descRestarts, prometheus.CounterValue, float64(st.Restarts))
	live, _ := s.live(sn)
	ready, _ := s.ready(sn)
	startup, _ := s.startup(sn)
	emit(ch, descProbe, prometheus.GaugeValue, b2f(live), "live")
	emit(ch, descProbe, prometheus.GaugeValue, b2f(ready), "ready")
	emit(ch, descProbe, prometheus.GaugeValue, b2f(startup), "startup")
	var n Counters
	if s.cfg.Counters != nil {
		n = s.cfg.Counters()
	}
	emit(ch, descSignals, prometheus.CounterValue, float64(n.SignalsForwarded))
	emit(ch, descOrphans, prometheus.CounterValue, float64(n.OrphansReaped))
}

// CountersOf reads the supervisor's counters, for Config.Counters.
func CountersOf(sup *supervisor.Supervisor) func() Counters {
	return func() Counters {
		st := sup.Stats()
		return Counters{SignalsForwarded: st.SignalsForwarded, OrphansReaped: st.OrphansReaped}
	}
}
