package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/apache/doris-entrypoint/test/fakedoris"
)

// benchJoins measures, for n runs each, the time from starting
// `doris-entrypoint be` (a BE joining a running fake cluster) and
// `doris-entrypoint fe` (the first FE follower, no metadata) as PID 1 to its
// start script running, with the FE answering at once.
func benchJoins(entry, dir string, n int) error {
	if _, err := os.Stat(filepath.Join(dir, "helper")); err != nil {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "helper"), "./test/helper").CombinedOutput(); err != nil {
			return fmt.Errorf("build helper: %v\n%s", err, out)
		}
	}
	c := fakedoris.NewCluster(fakedoris.Layout21)
	c.AddFrontend(fakedoris.Frontend{Host: "fe-0.fe-internal", EditLogPort: 9010, QueryPort: 9030, Role: "FOLLOWER",
		IsMaster: true, Alive: true, Join: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fe := fakedoris.ServeFE(ln, c, "fe-0.fe-internal")
	defer fe.Close()
	sock := filepath.Join(dir, "joins.sock")
	started, err := listenEvents(sock, "started")
	if err != nil {
		return err
	}
	results := map[string][]float64{}
	for i := 0; i < n; i++ {
		for _, comp := range []string{"be", "fe"} {
			root := filepath.Join(dir, fmt.Sprintf("join-%s-%d", comp, i))
			for _, d := range []string{comp + "/bin", comp + "/conf"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					return err
				}
			}
			// The start script reports and exits: the time to it is the join.
			script := fmt.Sprintf("#!/bin/sh\nexec %s\n", filepath.Join(dir, "helper")+" report-started")
			if err := os.WriteFile(filepath.Join(root, comp, "bin", "start_"+comp+".sh"), []byte(script), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(root, comp, "conf", comp+".conf"), []byte("heartbeat_service_port = 9050\n"), 0o644); err != nil {
				return err
			}
			cmd := exec.Command("unshare", "--pid", "--fork", "--mount-proc", entry, comp, ln.Addr().String())
			cmd.Env = append(os.Environ(), "HELPER_EVENTS="+sock, "DORIS_ROOT="+root, "DORIS_ENTRYPOINT_PODINFO_DIR="+filepath.Join(root, "podinfo"),
				"POD_FQDN="+comp+"-"+strconv.Itoa(i+1)+".internal", "CONFIGMAP_MOUNT_PATH="+filepath.Join(root, "none"))
			t0 := time.Now()
			if err := cmd.Start(); err != nil {
				return err
			}
			if err := waitChan(started, 30*time.Second); err != nil {
				cmd.Process.Kill()
				return fmt.Errorf("%s join %d: %w", comp, i, err)
			}
			results[comp] = append(results[comp], float64(time.Since(t0).Microseconds())/1000)
			cmd.Wait()
		}
	}
	fmt.Printf("\nJoining a running fake cluster (FE answers at once): from starting doris-entrypoint as PID 1 to its start script, %d runs each.\n\n", n)
	fmt.Printf("| node | median | p90 | target |\n|---|---|---|---|\n")
	fmt.Printf("| BE: SHOW BACKENDS, SHOW FRONTENDS, ADD BACKEND, SHOW BACKENDS, start | %.0f ms | %.0f ms | ≤ 500 ms median |\n", median(results["be"]), percentile(results["be"], 0.9))
	fmt.Printf("| first FE follower: SHOW FRONTENDS, ADD FOLLOWER, SHOW FRONTENDS, start --helper | %.0f ms | %.0f ms | ≤ 500 ms median |\n", median(results["fe"]), percentile(results["fe"], 0.9))
	return nil
}
