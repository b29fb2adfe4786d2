package probes

import (
	"fmt"
	"net/http"
	"os"
	"strings"
)

// Every answer of the endpoint says who gave it: the component and the
// mount namespace of the supervisor. An exec probe runs in its container's
// mount namespace (the kubelet and kubectl exec enter every namespace of
// the container), which no other container shares, so [Exec] can refuse an
// answer from another container's supervisor. That is what happens with
// two pods on one node with hostNetwork (an FE and a BE): the second
// supervisor cannot bind the probe port, and without the check the first
// one would answer the second pod's probes. The mount namespace is an
// inode number: it names no file, host or secret.
const (
	HeaderComponent = "Doris-Entrypoint-Component"
	HeaderMountNS   = "Doris-Entrypoint-Mount-Ns"
)

// mountNS is this process's mount namespace ("4026532201" of
// "mnt:[4026532201]"), or "" when /proc does not tell.
func mountNS() string {
	l, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil || !strings.HasPrefix(l, "mnt:[") {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(l, "mnt:["), "]")
}

// identify adds who answers to every answer of next.
func (s *Server) identify(next http.Handler) http.Handler {
	ns := mountNS()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set(HeaderComponent, s.cfg.Component)
		if ns != "" {
			h.Set(HeaderMountNS, ns)
		}
		next.ServeHTTP(w, r)
	})
}

// stranger says why an answer with header h did not come from this
// container's supervisor, or "" when it did (or when this process cannot
// tell: no /proc).
func stranger(h http.Header) string {
	own := mountNS()
	if own == "" || h.Get(HeaderMountNS) == own {
		return ""
	}
	const fix = "the probe port is shared (hostNetwork?): give each pod its own DORIS_ENTRYPOINT_PROBE_ADDR"
	if who := h.Get(HeaderComponent); who != "" {
		return fmt.Sprintf("refused: the %s supervisor of another container answered, not this container's; %s", who, fix)
	}
	return "refused: something other than this container's supervisor answered; " + fix
}
