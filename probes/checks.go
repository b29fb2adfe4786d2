package probes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
)

// The checks' names, as /status and /metrics show them.
const (
	CheckPort       = "port"       // the liveness port accepts
	CheckHealth     = "health"     // /api/health of the component
	CheckMembership = "membership" // SHOW FRONTENDS / SHOW BACKENDS lists it alive
)

// maxHealthBody bounds what is read of an /api/health answer.
const maxHealthBody = 64 << 10

// HTTPClient returns the client the health checks use: no proxy, no
// keep-alive (one connection per round is cheaper than an idle one held
// open against a JVM), no redirects.
func HTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true, MaxResponseHeaderBytes: 16 << 10},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// PortOpen reports whether addr accepts a TCP connection.
func PortOpen(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("%s not accepting: %w", addr, unwrapOp(err))
	}
	c.Close()
	return nil
}

// unwrapOp drops the "dial tcp host:port:" prefix the caller already says.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// Health checks the component's /api/health at url: HTTP 200, and a body
// that judge accepts (cluster.Component.HealthBody).
func Health(ctx context.Context, hc *http.Client, url string, judge func(body []byte) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			err = unwrapOp(ue.Unwrap())
		}
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHealthBody))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := judge(body); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// NodeChecks are the checks of a Doris node: the liveness check (its
// liveness port accepts) and the readiness checks (its /api/health, when it
// has one, and its membership in SHOW FRONTENDS / BACKENDS / BROKER). The
// conf is read at every round: its ports are the component's, whatever a
// ConfigMap brought. The client's timeouts are capped so that a round fits
// in one interval.
func NodeChecks(node *cluster.Node, interval time.Duration) (live *Check, ready []Check) {
	n := *node
	n.Client = &cluster.Client{Admin: node.Client.Admin, ConnectTimeout: min(node.Client.ConnectTimeout, interval/2),
		QueryTimeout: min(node.Client.QueryTimeout, interval)}
	hc := HTTPClient()
	local := func(p int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)) }
	live = &Check{Name: CheckPort, Run: func(ctx context.Context) error {
		p, err := n.Port(n.Component.Liveness)
		if err != nil {
			return err
		}
		return PortOpen(ctx, local(p))
	}}
	health := Check{Name: CheckHealth, Run: func(ctx context.Context) error {
		p, err := n.Port(n.Component.HTTP)
		if err != nil {
			return err
		}
		return Health(ctx, hc, "http://"+local(p)+"/api/health", n.Component.HealthBody)
	}}
	member := Check{Name: CheckMembership, Run: n.Member}
	if n.Component.HTTP.Key == "" { // the broker: no /api/health
		return live, []Check{member}
	}
	return live, []Check{health, member}
}
