package fakedoris

import (
	"fmt"
	"net/http"
)

// HealthFault changes what /api/health answers.
type HealthFault int

const (
	HealthOK          HealthFault = iota // the real bodies
	HealthUnavailable                    // HTTP 503, as an FE that is not ready yet (DorisFE.isServerReady)
	HealthBadJSON                        // HTTP 200 with a body that is not the health JSON
	HealthCodeNotZero                    // FE: HTTP 200, code 1; BE: status "NOT_READY"
)

// SetHealth makes /api/health of every node of the cluster answer f.
func (c *Cluster) SetHealth(f HealthFault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.health = f
}

func (c *Cluster) healthFault() HealthFault {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.health
}

// faulty answers a health fault other than HealthCodeNotZero; it says
// whether it did.
func faulty(w http.ResponseWriter, f HealthFault) bool {
	switch f {
	case HealthUnavailable:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"msg":"Server is not ready","code":1,"data":null,"count":0}`)
		return true
	case HealthBadJSON:
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body>502 Bad Gateway</body></html>")
		return true
	}
	return false
}

// FEHealth serves the FE's GET /api/health with the real body
// (HealthAction.java): HTTP 200, code 0, the backend counts.
func (c *Cluster) FEHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/health" {
			http.NotFound(w, r)
			return
		}
		f := c.healthFault()
		if faulty(w, f) {
			return
		}
		bes := c.Backends()
		online := 0
		for _, be := range bes {
			if be.Alive {
				online++
			}
		}
		code := 0
		if f == HealthCodeNotZero {
			code = 1
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"msg":"success","code":%d,"data":{"online_backend_num":%d,"total_backend_num":%d},"count":0}`, code, online, len(bes))
	})
}

// BEHealth serves the BE's GET /api/health with the real body
// (health_action.cpp).
func (c *Cluster) BEHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/health" {
			http.NotFound(w, r)
			return
		}
		f := c.healthFault()
		if faulty(w, f) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if f == HealthCodeNotZero {
			fmt.Fprint(w, `{"status": "NOT_READY","msg": "To Be Added"}`)
			return
		}
		fmt.Fprint(w, `{"status": "OK","msg": "To Be Added"}`)
	})
}
