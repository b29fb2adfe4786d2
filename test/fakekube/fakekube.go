// Package fakekube plays the few kube-apiserver endpoints the supervisor
// uses, for its tests: GET its pod, watch it (newline-delimited JSON
// events), POST Events, GET a StatefulSet, GET/POST/PUT ConfigMaps
// (configmaps.go); or 403 for all. Unit tests use it
// over plain HTTP (Server in httptest), black-box tests of the binary as PID
// 1 over TLS with a service-account directory ([Server.ServiceAccount]).
package fakekube

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Server plays the few kube-apiserver endpoints the client uses: GET the
// pod, watch it (newline-delimited JSON events), POST events; or 403 for all.
type Server struct {
	Mu        sync.Mutex
	Pod       corev1.Pod
	Watchers  []chan corev1.Pod
	Events    []corev1.Event
	Forbidden bool
	Expire    bool // end each watch at once (as a watch timeout does)
	FailGets  int  // answer this many GETs of the pod with a 500
	FailWatch bool // answer every watch with a 500
	Gets      int
	GetTimes  []time.Time // when each GET of the pod arrived
	Failures  int
	// StatefulSets are served by name; a name not here is a 404.
	StatefulSets map[string]*appsv1.StatefulSet
	// ConfigMaps (configmaps.go); ForbidConfigMaps: 403 on them.
	ForbidConfigMaps bool
	configMaps       *configMapState
}

// fail answers a 500 whose message is new each time, so that the watch loop
// logs every retry with its wait; the caller holds a.Mu.
func (a *Server) fail(w http.ResponseWriter) {
	a.Failures++
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(500)
	fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"InternalError","code":500,"message":"failure %d"}`, a.Failures)
}

// ServeHTTP answers the endpoints above.
func (a *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.Mu.Lock()
	forbidden := a.Forbidden
	a.Mu.Unlock()
	if forbidden {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(403)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,`+
			`"message":"pods \"be-0\" is forbidden: User \"system:serviceaccount:doris:default\" cannot get resource \"pods\""}`)
		return
	}
	switch {
	case r.Method == "GET" && r.URL.Path == "/api/v1/namespaces/"+a.Pod.Namespace+"/pods/"+a.Pod.Name:
		a.Mu.Lock()
		a.Gets++
		a.GetTimes = append(a.GetTimes, time.Now())
		if a.Gets <= a.FailGets {
			a.fail(w)
			a.Mu.Unlock()
			return
		}
		b, _ := json.Marshal(a.Pod)
		a.Mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	case r.Method == "GET" && r.URL.Path == "/api/v1/namespaces/"+a.Pod.Namespace+"/pods" && r.URL.Query().Get("watch") == "true":
		if r.URL.Query().Get("fieldSelector") != "metadata.name="+a.Pod.Name {
			http.Error(w, "want a field selector on the name", 400)
			return
		}
		a.Mu.Lock()
		if a.FailWatch {
			a.fail(w)
			a.Mu.Unlock()
			return
		}
		a.Mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		a.Mu.Lock()
		if a.Expire {
			a.Mu.Unlock()
			return
		}
		ch := make(chan corev1.Pod, 16)
		a.Watchers = append(a.Watchers, ch)
		a.Mu.Unlock()
		for {
			select {
			case <-r.Context().Done():
				return
			case pod := <-ch:
				b, _ := json.Marshal(map[string]any{"type": "MODIFIED", "object": pod})
				w.Write(append(b, '\n'))
				w.(http.Flusher).Flush()
			}
		}
	case r.Method == "POST" && r.URL.Path == "/api/v1/namespaces/"+a.Pod.Namespace+"/events":
		var ev corev1.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		a.Mu.Lock()
		a.Events = append(a.Events, ev)
		a.Mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(ev)
	case r.URL.Path == "/api/v1/namespaces/"+a.Pod.Namespace+"/configmaps" || strings.HasPrefix(r.URL.Path, "/api/v1/namespaces/"+a.Pod.Namespace+"/configmaps/"):
		a.serveConfigMaps(w, r, strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/api/v1/namespaces/"+a.Pod.Namespace+"/configmaps"), "/"))
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/apis/apps/v1/namespaces/"+a.Pod.Namespace+"/statefulsets/"):
		a.serveStatefulSet(w, strings.TrimPrefix(r.URL.Path, "/apis/apps/v1/namespaces/"+a.Pod.Namespace+"/statefulsets/"))
	default:
		http.Error(w, "not here: "+r.Method+" "+r.URL.String(), 404)
	}
}

// Annotate changes the pod and tells the watchers.
func (a *Server) Annotate(ann map[string]string) {
	a.Mu.Lock()
	defer a.Mu.Unlock()
	a.Pod.Annotations = ann
	a.Pod.ResourceVersion = fmt.Sprint(len(a.Events) + 100 + len(ann))
	for _, ch := range a.Watchers {
		ch <- a.Pod
	}
}

// serveStatefulSet answers GET of a StatefulSet, or the API's 404.
func (a *Server) serveStatefulSet(w http.ResponseWriter, name string) {
	a.Mu.Lock()
	sts, ok := a.StatefulSets[name]
	var b []byte
	if ok {
		b, _ = json.Marshal(sts)
	}
	a.Mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(404)
		fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,`+
			`"message":"statefulsets.apps %q not found","details":{"name":%q,"group":"apps","kind":"statefulsets"}}`, name, name)
		return
	}
	w.Write(b)
}

// SetStatefulSet serves a StatefulSet of that name with replicas, and makes
// it the pod's owner; deleting marks it as being deleted.
func (a *Server) SetStatefulSet(name string, replicas int32, deleting bool) {
	a.Mu.Lock()
	defer a.Mu.Unlock()
	sts := &appsv1.StatefulSet{}
	sts.APIVersion, sts.Kind = "apps/v1", "StatefulSet"
	sts.Name, sts.Namespace = name, a.Pod.Namespace
	sts.Spec.Replicas = &replicas
	if deleting {
		now := metav1.Now()
		sts.DeletionTimestamp = &now
	}
	if a.StatefulSets == nil {
		a.StatefulSets = map[string]*appsv1.StatefulSet{}
	}
	a.StatefulSets[name] = sts
	a.Pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: name, UID: "sts-uid"}}
}

// EventReasons are the reasons of the Events posted so far.
func (a *Server) EventReasons() []string {
	a.Mu.Lock()
	defer a.Mu.Unlock()
	var out []string
	for _, ev := range a.Events {
		out = append(out, ev.Reason)
	}
	return out
}

// NewPod is a Pod object named name in namespace ns.
func NewPod(ns, name string) corev1.Pod {
	return corev1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: "pod-uid", ResourceVersion: "7"},
		Spec:       corev1.PodSpec{NodeName: "node-1"},
	}
}

// StartTLS serves a over TLS on loopback until the test ends, and returns
// the environment a pod's process finds the API with: KUBERNETES_SERVICE_HOST
// and _PORT, and a service-account directory (token, ca.crt, namespace) to
// be mounted at /var/run/secrets/kubernetes.io/serviceaccount.
func StartTLS(t testing.TB, a *Server) (env []string, serviceAccount string) {
	t.Helper()
	srv := httptest.NewTLSServer(a)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	for name, b := range map[string][]byte{"token": []byte("fake-token"), "ca.crt": ca, "namespace": []byte(a.Pod.Namespace)} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return []string{"KUBERNETES_SERVICE_HOST=" + host, "KUBERNETES_SERVICE_PORT=" + port}, dir
}
