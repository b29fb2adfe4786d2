package fakekube

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ConfigMaps of the pod's namespace, as the API server keeps them: GET by
// name, POST (409 AlreadyExists), PUT with the resourceVersion read (409
// Conflict when it is not the current one), each write a new
// resourceVersion. ForbidConfigMaps answers every one of them with a 403 (a
// Role without the configmaps rule).

// configMapState is the fake's ConfigMaps; the caller holds a.Mu.
type configMapState struct {
	items   map[string]*corev1.ConfigMap
	version int
	writes  int
}

func (a *Server) configMapsLocked() *configMapState {
	if a.configMaps == nil {
		a.configMaps = &configMapState{items: map[string]*corev1.ConfigMap{}, version: 500}
	}
	return a.configMaps
}

func status(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code, "message": msg,
		"details": map[string]string{"kind": "configmaps"}})
	w.Write(b)
}

// serveConfigMaps answers /api/v1/namespaces/<ns>/configmaps[/<name>].
func (a *Server) serveConfigMaps(w http.ResponseWriter, r *http.Request, name string) {
	a.Mu.Lock()
	defer a.Mu.Unlock()
	if a.ForbidConfigMaps {
		status(w, 403, "Forbidden", fmt.Sprintf(`configmaps %q is forbidden: User "system:serviceaccount:%s:default" cannot %s resource "configmaps"`,
			name, a.Pod.Namespace, strings.ToLower(r.Method)))
		return
	}
	st := a.configMapsLocked()
	switch {
	case r.Method == "GET" && name != "":
		cm, ok := st.items[name]
		if !ok {
			status(w, 404, "NotFound", fmt.Sprintf("configmaps %q not found", name))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(cm)
	case r.Method == "POST" && name == "", r.Method == "PUT" && name != "":
		var cm corev1.ConfigMap
		if err := json.NewDecoder(r.Body).Decode(&cm); err != nil {
			status(w, 400, "BadRequest", err.Error())
			return
		}
		cur, exists := st.items[cm.Name]
		switch {
		case r.Method == "POST" && exists:
			status(w, 409, "AlreadyExists", fmt.Sprintf("configmaps %q already exists", cm.Name))
			return
		case r.Method == "PUT" && (!exists || cm.Name != name):
			status(w, 404, "NotFound", fmt.Sprintf("configmaps %q not found", name))
			return
		case r.Method == "PUT" && cm.ResourceVersion != cur.ResourceVersion:
			status(w, 409, "Conflict", fmt.Sprintf(`Operation cannot be fulfilled on configmaps %q: the object has been modified; `+
				`please apply your changes to the latest version and try again`, name))
			return
		}
		st.version++
		st.writes++
		cm.Namespace, cm.ResourceVersion = a.Pod.Namespace, strconv.Itoa(st.version)
		st.items[cm.Name] = &cm
		w.Header().Set("Content-Type", "application/json")
		if r.Method == "POST" {
			w.WriteHeader(201)
		}
		json.NewEncoder(w).Encode(&cm)
	default:
		http.Error(w, "not here: "+r.Method+" "+r.URL.String(), 405)
	}
}

// ConfigMapData returns a copy of a ConfigMap's data, and false when there
// is no such ConfigMap.
func (a *Server) ConfigMapData(name string) (map[string]string, bool) {
	a.Mu.Lock()
	defer a.Mu.Unlock()
	cm, ok := a.configMapsLocked().items[name]
	if !ok {
		return nil, false
	}
	return maps.Clone(cm.Data), true
}

// SetConfigMapData writes one key of a ConfigMap (creating it), as
// `kubectl edit` would: a test's corrupt record.
func (a *Server) SetConfigMapData(name, key, value string) {
	a.Mu.Lock()
	defer a.Mu.Unlock()
	st := a.configMapsLocked()
	cm, ok := st.items[name]
	if !ok {
		cm = &corev1.ConfigMap{Data: map[string]string{}}
		cm.Kind, cm.APIVersion, cm.Name, cm.Namespace = "ConfigMap", "v1", name, a.Pod.Namespace
		st.items[name] = cm
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[key] = value
	st.version++
	cm.ResourceVersion = strconv.Itoa(st.version)
}

// ConfigMapWrites is how many POSTs and PUTs of ConfigMaps succeeded.
func (a *Server) ConfigMapWrites() int {
	a.Mu.Lock()
	defer a.Mu.Unlock()
	return a.configMapsLocked().writes
}
