package fakedoris

import (
	"fmt"
	"net/http"
)

// FEHealth serves the FE's GET /api/health with the real body
// (HealthAction.java): HTTP 200, code 0, the backend counts.
func (c *Cluster) FEHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/health" {
			http.NotFound(w, r)
			return
		}
		bes := c.Backends()
		online := 0
		for _, be := range bes {
			if be.Alive {
				online++
			}
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"msg":"success","code":0,"data":{"online_backend_num":%d,"total_backend_num":%d},"count":0}`, online, len(bes))
	})
}

// BEHealth serves the BE's GET /api/health with the real body
// (health_action.cpp).
func BEHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/health" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status": "OK","msg": "To Be Added"}`)
	})
}
