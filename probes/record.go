package probes

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
)

// ListenAndServe serves the endpoint on addr until ctx ends, and records
// the bound address in recordFile for `status` (which finds it there
// whatever the configuration). An empty addr disables the endpoint; a port
// that cannot be bound is logged, and the supervisor goes on without it
// (the Doris ports still serve the operator's probes). Either way no
// address stays recorded, so that nothing else on the port passes for ours.
func (s *Server) ListenAndServe(ctx context.Context, addr, recordFile string) {
	log := s.log
	if addr == "" {
		log.Info("probe endpoint disabled", zap.String("env", "DORIS_ENTRYPOINT_PROBE_ADDR"))
		os.Remove(recordFile)
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("probe endpoint not started: the Doris ports still serve the operator's probes", zap.String("addr", addr), zap.Error(err))
		os.Remove(recordFile)
		return
	}
	bound := ln.Addr().String()
	if err := writeFileAtomic(recordFile, []byte(bound+"\n")); err != nil {
		log.Warn("cannot record the probe address for status", zap.Error(err))
	}
	log.Info("probe endpoint listening", zap.String("addr", bound), zap.Duration("interval", s.interval))
	go func() {
		if err := s.Serve(ctx, ln); err != nil {
			log.Error("probe endpoint stopped", zap.Error(err))
		}
	}()
}

// RecordedStatus reads /status from the endpoint recorded in recordFile
// (none: the endpoint is disabled or failed to start, and whatever listens
// on the configured port is not ours).
func RecordedStatus(recordFile string) (Status, error) {
	b, err := os.ReadFile(recordFile)
	if err != nil {
		return Status{}, errors.New("no probe endpoint recorded: disabled, or not started (see the log)")
	}
	target, err := LoopbackAddr(strings.TrimSpace(string(b)))
	if err != nil {
		return Status{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return FetchStatus(ctx, target)
}

func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
