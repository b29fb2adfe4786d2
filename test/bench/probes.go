package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// benchProbes runs `doris-entrypoint be` as PID 1 with a fake BE as its
// child and a fake FE in this process, waits until it is ready, then sends
// rate probe requests per second for d (open loop: latency counts from the
// moment a request was due, so a stall is not hidden by fewer requests), and
// counts the FE queries the supervisor made meanwhile.
func benchProbes(entry, dir string, rate int, d time.Duration) error {
	c, ln, closeFE, err := fakeMaster(dir)
	if err != nil {
		return err
	}
	defer closeFE()

	root := filepath.Join(dir, "probes-be")
	for _, d := range []string{"be/bin", "be/conf"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	hb, web, ep := freePort(), freePort(), freePort()
	conf := fmt.Sprintf("heartbeat_service_port = %d\nwebserver_port = %d\n", hb, web)
	if err := os.WriteFile(filepath.Join(root, "be", "conf", "be.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	script := fmt.Sprintf("#!/bin/sh\nexec %s fake-be \"$DORIS_ROOT/be/conf/be.conf\"\n", filepath.Join(dir, "helper"))
	if err := os.WriteFile(filepath.Join(root, "be", "bin", "start_be.sh"), []byte(script), 0o755); err != nil {
		return err
	}
	endpoint := fmt.Sprintf("127.0.0.1:%d", ep)
	cmd := exec.Command("unshare", "--pid", "--fork", "--mount-proc", entry, "be", ln.Addr().String())
	cmd.Env = append(os.Environ(), "DORIS_ROOT="+root, "DORIS_ENTRYPOINT_PODINFO_DIR="+filepath.Join(root, "podinfo"),
		"POD_FQDN=be-0.be-internal", "CONFIGMAP_MOUNT_PATH="+filepath.Join(root, "none"), "DORIS_ENTRYPOINT_PROBE_ADDR="+endpoint)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer stopUnshared(cmd)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, Proxy: nil}, Timeout: 5 * time.Second}
	get := func(path string) (int, error) {
		resp, err := client.Get("http://" + endpoint + path)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code, _ := get("/readyz"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the BE never turned ready at %s", endpoint)
		}
		time.Sleep(20 * time.Millisecond)
	}

	queries := func() int {
		n := 0
		for _, q := range c.Statements() {
			if strings.HasPrefix(strings.ToUpper(q), "SHOW BACKENDS") {
				n++
			}
		}
		return n
	}
	before := queries()
	paths := []string{"/readyz", "/livez", "/startupz"}
	total := int(d.Seconds() * float64(rate))
	lat := make([]float64, total)
	failed := 0
	var mu sync.Mutex
	due := make(chan int, total)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range due {
				at := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
				code, err := get(paths[i%len(paths)])
				lat[i] = float64(time.Since(at).Microseconds()) / 1000
				if err != nil || code != 200 {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	for i := 0; i < total; i++ {
		at := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
		if w := time.Until(at); w > 0 {
			select {
			case <-time.After(w):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		due <- i
	}
	close(due)
	wg.Wait()
	el := time.Since(start)
	made := queries() - before
	sort.Float64s(lat)
	fmt.Printf("\nProbe endpoint under load: %d requests/s for %s (/readyz, /livez, /startupz in turn; open loop, latency from the moment each was due), "+
		"`doris-entrypoint be` as PID 1 with a ready fake BE, checks every 5 s (default).\n\n", rate, d)
	fmt.Printf("| requests | failed | p50 | p99 | max | FE queries meanwhile | allowed (one per interval) | target |\n|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %d in %.1f s | %d | %.2f ms | %.2f ms | %.2f ms | %d | ≤ %d | p99 ≤ 5 ms, ≤ 1 query per interval |\n",
		total, el.Seconds(), failed, percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 1), made, int(el/(5*time.Second))+1)
	return nil
}
