package probes

import (
	"encoding/json"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/supervisor/modes"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const (
	maxHeaderBytes = 8 << 10 // probes send a few hundred bytes
	maxConns       = 64      // open connections from the network (conns.go: at the limit the longest-waiting idle one makes room)
	// A /readyz?wait= request is held at most this long (below the 5 s
	// write timeout), and at most maxWaiters at once: the others answer at
	// once, so held requests cannot starve the probes.
	maxWait    = 4 * time.Second
	maxWaiters = 8
)

// Paths of the endpoint.
const (
	PathLive    = "/livez"
	PathReady   = "/readyz"
	PathStartup = "/startupz"
	PathStatus  = "/status"
	PathMetrics = "/metrics"
)

// Status is the JSON document /status serves.
type Status struct {
	Component string `json:"component"`
	Version   string `json:"version"`
	// DorisVersion is the node's own Doris version, as the upgrade guard reads it.
	DorisVersion string    `json:"doris_version,omitempty"`
	Mode         string    `json:"mode"`
	Phase        string    `json:"phase"`
	Since        time.Time `json:"since"`
	Stopping     bool      `json:"stopping"`
	Child        Child     `json:"child"`
	// Ports are the ports debug mode moved: original and moved value.
	Ports    []Port `json:"ports,omitempty"`
	Restarts int    `json:"restarts"`
	LastExit *int   `json:"last_exit_code,omitempty"`
	Problem  string `json:"problem,omitempty"`
	// Leave is a scale-in's progress: tablets left, rate, budget left.
	Leave *cluster.Progress `json:"leave,omitempty"`
	// Probes are the three probes' answers, as they would be now.
	Probes map[string]Probe `json:"probes"`
	// Checks are the latest background check results, with their age.
	Checks map[string]Result `json:"checks"`
}

// Child describes the supervised process.
type Child struct {
	PID   int    `json:"pid,omitempty"`
	State string `json:"state"` // not started, running, stopping, exited, none (debug)
}

// Port is a conf port moved by debug mode.
type Port struct {
	Key      string `json:"key"`
	Original int    `json:"original"`
	Moved    int    `json:"moved"`
}

// Probe is a probe's answer.
type Probe struct {
	OK     bool   `json:"ok"`
	Reason string `json:"reason"`
}

// Status returns the /status document.
func (s *Server) Status() Status {
	sn := s.snap()
	st := sn.state
	out := Status{Component: s.cfg.Component, Version: s.cfg.Version, DorisVersion: s.cfg.DorisVersion, Mode: st.Mode, Phase: st.Phase, Since: st.Since,
		Stopping: sn.stopping, Restarts: st.Restarts, LastExit: st.LastExit, Problem: st.Problem, Leave: st.Leave,
		Probes: map[string]Probe{}, Checks: map[string]Result{}}
	if out.Phase == "" {
		out.Phase = "starting"
	}
	switch st.Phase {
	case modes.PhaseRunning:
		out.Child = Child{PID: st.ChildPID, State: "running"}
	case modes.PhaseStopping:
		out.Child = Child{PID: st.ChildPID, State: "stopping"}
	case modes.PhaseExited:
		out.Child = Child{State: "exited"}
	case modes.PhaseDebug:
		out.Child = Child{State: "none (debug mode)"}
	default:
		out.Child = Child{State: "not started"}
	}
	for _, p := range st.Ports {
		out.Ports = append(out.Ports, Port{Key: p.Key, Original: p.From, Moved: p.To})
	}
	for name, f := range map[string]func(snapshot) (bool, string){"live": s.live, "ready": s.ready, "startup": s.startup} {
		ok, why := f(sn)
		out.Probes[name] = Probe{OK: ok, Reason: why}
	}
	for name, r := range sn.results {
		r.AgeSeconds = sn.now.Sub(r.At).Round(time.Millisecond).Seconds()
		out.Checks[name] = r
	}
	return out
}

// CheckNames lists the checks in the order they run.
func (s *Server) CheckNames() []string {
	var names []string
	if s.cfg.Live != nil {
		names = append(names, s.cfg.Live.Name)
	}
	for _, c := range s.cfg.Ready {
		names = append(names, c.Name)
	}
	return names
}

// Handler returns the endpoint's HTTP handler: GET and HEAD only, no body.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	probe := func(f func() (bool, string)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			ok, why := f()
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if !ok {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			w.Write([]byte(why + "\n"))
		}
	}
	mux.Handle(PathLive, probe(s.Live))
	mux.HandleFunc(PathReady, func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query().Get("wait")
		if v == "" {
			probe(s.Ready)(w, r)
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			http.Error(w, "wait: want a duration such as 1500ms", http.StatusBadRequest)
			return
		}
		probe(func() (bool, string) { return s.waitFlip(r, min(d, maxWait)) })(w, r)
	})
	mux.Handle(PathStartup, probe(s.Startup))
	mux.HandleFunc(PathStatus, func(w http.ResponseWriter, r *http.Request) {
		b, err := json.MarshalIndent(s.Status(), "", "  ")
		if err != nil {
			http.Error(w, "status: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(append(b, '\n'))
	})
	mux.Handle(PathMetrics, promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	return guard(mux)
}

// waitFlip answers a readiness request at once when the verdict differs
// from the last one a waiting request was given, and otherwise holds it
// until the verdict flips, d passes or the client goes away. The kubelet
// probes again as soon as a held probe returns (its ticker fired
// meanwhile), so with "/readyz?wait=1500ms", periodSeconds 1 and
// timeoutSeconds 2 a flip reaches it within milliseconds instead of up to
// a period later. The "last answer" is one for all clients: it is tuned
// for the one kubelet probing; another client at most shortens a hold.
func (s *Server) waitFlip(r *http.Request, d time.Duration) (bool, string) {
	answer := func() (bool, string) {
		s.flipMu.Lock()
		defer s.flipMu.Unlock()
		ok, why := s.Ready()
		s.answered, s.lastAnswer = true, ok
		return ok, why
	}
	select {
	case s.waiters <- struct{}{}:
		defer func() { <-s.waiters }()
	default:
		return answer() // enough held already
	}
	s.flipMu.Lock()
	ok, flipped := s.flipLocked()
	news := !s.answered || s.lastAnswer != ok
	s.flipMu.Unlock()
	if !news {
		start := time.Now()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-flipped:
		case <-t.C:
		case <-r.Context().Done():
			// The prober gave up first: its timeout is shorter than the
			// wait, and every held probe fails. Say so once; the answer it
			// never read must not count as seen.
			if !s.stopping() && s.waitWarned.CompareAndSwap(false, true) {
				s.log.Warn("a /readyz?wait= probe gave up before its answer: keep the wait below the probe's timeoutSeconds (by 0.5 s)",
					zap.Duration("wait", d), zap.Duration("held", time.Since(start)))
			}
			ok, why := s.Ready()
			return ok, why
		}
	}
	return answer()
}

// guard lets only body-less GET and HEAD requests of known paths through.
func guard(next *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
			h.Set("Connection", "close")
			http.Error(w, "request body not allowed", http.StatusRequestEntityTooLarge)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Waiting is how many /readyz?wait= requests are held now.
func (s *Server) Waiting() int { return len(s.waiters) }
