// BE / CN registration: make sure the cluster knows this backend (SHOW
// BACKENDS lists host:heartbeat_service_port, else ALTER SYSTEM ADD
// BACKEND), trying every FE address, with bounded waits and backoff, a
// periodic log line while no FE master is visible, and a context so that the
// debug annotation and SIGTERM end any wait at once (be_entrypoint.sh waits
// forever on the first address and cannot be debugged meanwhile).

package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Backoff bounds between rounds over the FE addresses.
const (
	DefaultInterval    = 2 * time.Second
	DefaultMaxInterval = 10 * time.Second
	waitLogEvery       = 10 * time.Second
)

// Backend registers a BE or CN.
type Registration struct {
	Client        *Client
	FEAddrs       []string // host:query_port of each FE address
	Host          string   // this node as the FE must know it
	HeartbeatPort int
	Logger        *zap.Logger
	Interval      time.Duration // first wait between rounds; 0: DefaultInterval
	MaxInterval   time.Duration // 0: DefaultMaxInterval
}

// Register returns once the cluster lists this backend (re-enabling query
// and load on it), or with ctx's error.
func (b Registration) Register(ctx context.Context) error {
	log := b.Logger
	if log == nil {
		log = zap.NewNop()
	}
	self, err := HostPort(b.Host, b.HeartbeatPort)
	if err != nil {
		return fmt.Errorf("backend identity: %w", err)
	}
	r := rounds{FEAddrs: b.FEAddrs, Interval: b.Interval, MaxInterval: b.MaxInterval, Logger: log,
		Waiting: "waiting for an FE master to register the backend", Fields: []zap.Field{zap.String("backend", self)}}
	fe, attempt, err := r.run(ctx, func(fe string) (bool, string) { return b.try(ctx, fe, self, log) })
	if err != nil {
		return err
	}
	log.Info("backend registered", zap.String("backend", self), zap.String("fe", fe), zap.Int("attempt", attempt))
	return nil
}

// rounds asks every FE address in turn, round after round, with bounded
// waits between rounds (Interval doubling up to MaxInterval) and a log line
// at the first failed round and then every waitLogEvery; a context ends
// any wait at once (debug mode, SIGTERM).
type rounds struct {
	FEAddrs               []string
	Interval, MaxInterval time.Duration // 0: DefaultInterval, DefaultMaxInterval
	Logger                *zap.Logger
	Waiting               string      // the log line of a failed round
	Fields                []zap.Field // its fields
}

// run returns the FE on which try succeeded and the round, or ctx's error.
func (r rounds) run(ctx context.Context, try func(fe string) (ok bool, reason string)) (string, int, error) {
	if len(r.FEAddrs) == 0 {
		return "", 0, errors.New("no FE address to register with")
	}
	wait, maxWait := r.Interval, r.MaxInterval
	if wait <= 0 {
		wait = DefaultInterval
	}
	if maxWait <= 0 {
		maxWait = DefaultMaxInterval
	}
	start, lastLog := time.Now(), time.Time{}
	for attempt := 1; ; attempt++ {
		var why []string
		for _, fe := range r.FEAddrs {
			ok, reason := try(fe)
			if ok {
				return fe, attempt, nil
			}
			why = append(why, fe+": "+reason)
		}
		if time.Since(lastLog) >= waitLogEvery || attempt == 1 {
			r.Logger.Info(r.Waiting, append(r.Fields[:len(r.Fields):len(r.Fields)], zap.Int("attempt", attempt),
				zap.Duration("waited", time.Since(start).Round(time.Second)),
				zap.Duration("wait", wait), zap.String("why", strings.Join(why, "; ")))...)
			lastLog = time.Now()
		}
		if err := sleep(ctx, wait); err != nil {
			return "", attempt, err
		}
		wait = min(wait*2, maxWait)
	}
}

// sleep waits d or until ctx ends, whose error it returns then.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// try asks one FE; ok means the backend is listed now.
func (b Registration) try(ctx context.Context, fe, self string, log *zap.Logger) (ok bool, reason string) {
	bes, err := b.Client.ShowBackends(ctx, fe)
	if err != nil {
		return false, err.Error()
	}
	for _, be := range bes {
		if hp, _ := HostPort(be.Host, be.HeartbeatPort); hp == self {
			if err := b.Client.EnableBackend(ctx, fe, b.Host, b.HeartbeatPort); err != nil {
				log.Warn("cannot re-enable query and load on the backend", zap.String("fe", fe), zap.Error(err))
			}
			return true, ""
		}
	}
	fes, err := b.Client.ShowFrontends(ctx, fe)
	if err != nil {
		return false, err.Error()
	}
	if _, ok := Master(fes); !ok {
		return false, "no master elected"
	}
	ensureAdmin(ctx, b.Client, fe, log)
	if err := b.Client.AddBackend(ctx, fe, b.Host, b.HeartbeatPort); err != nil && !strings.Contains(err.Error(), "already exists") {
		return false, "add backend: " + err.Error()
	}
	log.Info("backend added", zap.String("backend", self), zap.String("fe", fe))
	// Confirmed by the next SHOW BACKENDS, as the script does.
	bes, err = b.Client.ShowBackends(ctx, fe)
	if err != nil {
		return false, err.Error()
	}
	for _, be := range bes {
		if hp, _ := HostPort(be.Host, be.HeartbeatPort); hp == self {
			return true, ""
		}
	}
	return false, "added but not listed yet"
}
