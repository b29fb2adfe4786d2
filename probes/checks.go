package probes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/apache/doris-entrypoint/probes/doris"
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

// getHealth fetches url and decodes its JSON body into v.
func getHealth(ctx context.Context, hc *http.Client, url string, v any) error {
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
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: not the health JSON: %w", url, err)
	}
	return nil
}

// FrontendHealth checks an FE's /api/health at url: HTTP 200 and code 0
// (HealthAction.java). The status code alone is what the operator's httpGet
// checks; an FE that is not ready answers another code.
func FrontendHealth(ctx context.Context, hc *http.Client, url string) error {
	var body struct {
		Code *int   `json:"code"`
		Msg  string `json:"msg"`
	}
	if err := getHealth(ctx, hc, url, &body); err != nil {
		return err
	}
	switch {
	case body.Code == nil:
		return fmt.Errorf("GET %s: no code in the answer", url)
	case *body.Code != 0:
		return fmt.Errorf("GET %s: code %d: %.100s", url, *body.Code, body.Msg)
	}
	return nil
}

// BackendHealth checks a BE's /api/health at url: HTTP 200 and status "OK"
// (health_action.cpp).
func BackendHealth(ctx context.Context, hc *http.Client, url string) error {
	var body struct {
		Status string `json:"status"`
	}
	if err := getHealth(ctx, hc, url, &body); err != nil {
		return err
	}
	if body.Status != "OK" {
		return fmt.Errorf("GET %s: status %.40q, want \"OK\"", url, body.Status)
	}
	return nil
}

// FrontendMember checks that SHOW FRONTENDS on the FE at addr lists
// host:editLogPort with Alive and Join true.
func FrontendMember(ctx context.Context, c *doris.Client, addr, host string, editLogPort int) error {
	fes, err := c.ShowFrontends(ctx, addr)
	if err != nil {
		return err
	}
	self := host + ":" + strconv.Itoa(editLogPort)
	for _, fe := range fes {
		if fe.Host != host || fe.EditLogPort != editLogPort {
			continue
		}
		switch {
		case !fe.Alive:
			return fmt.Errorf("SHOW FRONTENDS on %s lists %s with Alive=false", addr, self)
		case !fe.Join:
			return fmt.Errorf("SHOW FRONTENDS on %s lists %s with Join=false", addr, self)
		}
		return nil
	}
	return fmt.Errorf("SHOW FRONTENDS on %s does not list %s", addr, self)
}

// BackendMember checks that SHOW BACKENDS, asked of the first FE in addrs
// that answers, lists host:heartbeatPort with Alive true. Only FEs that
// cannot be reached are skipped: one query per call at most.
func BackendMember(ctx context.Context, c *doris.Client, addrs []string, host string, heartbeatPort int) error {
	if len(addrs) == 0 {
		return errors.New("no FE address to ask")
	}
	self := host + ":" + strconv.Itoa(heartbeatPort)
	var errs []error
	for _, addr := range addrs {
		bes, err := c.ShowBackends(ctx, addr)
		if err != nil {
			errs = append(errs, err)
			if doris.Answered(err) || ctx.Err() != nil {
				break
			}
			continue
		}
		for _, be := range bes {
			if be.Host == host && be.HeartbeatPort == heartbeatPort {
				if !be.Alive {
					return fmt.Errorf("SHOW BACKENDS on %s lists %s with Alive=false", addr, self)
				}
				return nil
			}
		}
		return fmt.Errorf("SHOW BACKENDS on %s does not list %s", addr, self)
	}
	return errors.Join(errs...)
}
