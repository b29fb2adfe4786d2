package probes

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// LoopbackAddr turns a listen address (":8099", "0.0.0.0:8099") into the
// address a process in the same pod dials: an unspecified host becomes the
// loopback address.
func LoopbackAddr(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("probe address %q: %w", listen, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}

// Get asks the endpoint at addr (host:port) for path and returns the HTTP
// status code and the body (at most 1 MiB).
func Get(ctx context.Context, addr, path string) (int, string, error) {
	code, _, body, err := get(ctx, addr, path)
	return code, body, err
}

// get is Get with the answer's header.
func get(ctx context.Context, addr, path string) (int, http.Header, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return 0, nil, "", fmt.Errorf("probe endpoint %s: %w", addr, err)
	}
	hc := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, "", fmt.Errorf("probe endpoint %s: %w", addr, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, "", fmt.Errorf("probe endpoint %s: %w", addr, err)
	}
	return resp.StatusCode, resp.Header, string(b), nil
}

// FetchStatus reads /status from the endpoint at addr.
func FetchStatus(ctx context.Context, addr string) (Status, error) {
	var st Status
	code, body, err := Get(ctx, addr, PathStatus)
	if err != nil {
		return st, err
	}
	if code != http.StatusOK {
		return st, fmt.Errorf("probe endpoint %s: %s answered %d: %s", addr, PathStatus, code, strings.TrimSpace(body))
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return st, fmt.Errorf("probe endpoint %s: %s: %w", addr, PathStatus, err)
	}
	return st, nil
}

// ExecTimeout bounds an exec probe: kubelet's default timeoutSeconds is 1.
const ExecTimeout = 900 * time.Millisecond

// Exec is an exec probe: it asks the endpoint listening on listen (an
// unspecified host means loopback) for path (PathLive, PathReady,
// PathStartup), as a long poll of at most wait when wait > 0, and copies the
// answer's one-line reason to out. It passes on a 200 from this container's
// own supervisor: an answer from another one (see [HeaderMountNS]) fails,
// with the reason why. err says why there was no answer.
func Exec(listen, path string, wait time.Duration, out io.Writer) (passed bool, err error) {
	target, err := LoopbackAddr(listen)
	if err != nil {
		return false, err
	}
	if wait > 0 {
		path += "?wait=" + wait.String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait+ExecTimeout)
	defer cancel()
	code, h, body, err := get(ctx, target, path)
	if err != nil {
		return false, err
	}
	if why := stranger(h); why != "" {
		fmt.Fprintf(out, "%s (%s)\n", why, target)
		return false, nil
	}
	fmt.Fprint(out, body)
	return code == http.StatusOK, nil
}
