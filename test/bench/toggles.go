package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/apache/doris-entrypoint/supervisor/podinfo"
	"github.com/apache/doris-entrypoint/supervisor/podinfo/podinfotest"
)

// benchToggles measures debug-mode switches of `doris-entrypoint fe` as PID 1
// on a sandbox whose start_fe.sh is a fake FE (test/helper serve-conf):
// from the kubelet-style swap of ..data to (a) the FE stopped and its query
// port answering with the debug-mode MySQL error, (b) the FE listening again
// after the annotation is removed.
func benchToggles(entry, dir string, n int) error {
	helper := filepath.Join(dir, "helper")
	if out, err := exec.Command("go", "build", "-o", helper, "./test/helper").CombinedOutput(); err != nil {
		return fmt.Errorf("build helper: %v\n%s", err, out)
	}
	root := filepath.Join(dir, "toggles")
	podinfoDir := filepath.Join(root, "podinfo")
	conf := filepath.Join(root, "fe", "conf", "fe.conf")
	for _, d := range []string{"fe/bin", "fe/conf", "fe/doris-meta/image"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(root, "fe/doris-meta/image/ROLE"), nil, 0o644); err != nil {
		return err // metadata present: the FE starts without master probing
	}
	query, http := freePort(), freePort()
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("http_port = %d\nquery_port = %d\n", http, query)), 0o644); err != nil {
		return err
	}
	script := fmt.Sprintf("#!/bin/sh\nexec %s serve-conf %s query_port http_port\n", helper, conf)
	if err := os.WriteFile(filepath.Join(root, "fe/bin/start_fe.sh"), []byte(script), 0o755); err != nil {
		return err
	}
	normal := map[string]string{"app.kubernetes.io/component": "fe"}
	debug := map[string]string{"app.kubernetes.io/component": "fe", podinfo.KeyRunmode: "debug"}
	if err := podinfotest.Write(podinfoDir, normal, nil); err != nil {
		return err
	}
	sock := filepath.Join(dir, "events.sock")
	listening, err := listenEvents(sock, "listening ")
	if err != nil {
		return err
	}
	cmd := exec.Command("unshare", "--pid", "--fork", "--mount-proc", entry, "fe", "fe-svc:9030")
	cmd.Env = append(os.Environ(), "DORIS_ENTRYPOINT_PROBE_ADDR=127.0.0.1:0", "HELPER_EVENTS="+sock, "DORIS_ROOT="+root, "DORIS_ENTRYPOINT_PODINFO_DIR="+podinfoDir,
		"DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET=1000", "DORIS_ENTRYPOINT_STOP_TIMEOUT=10s")
	logPath := filepath.Join(dir, "toggles.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return err
	}
	defer stopUnshared(cmd)
	if err := waitChan(listening, 30*time.Second); err != nil {
		return fmt.Errorf("FE did not start: %w", err)
	}
	var enter, leave []float64
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := podinfotest.Write(podinfoDir, debug, nil); err != nil {
			return err
		}
		if err := waitDebugError(query, 30*time.Second); err != nil {
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("toggle %d: enter: %w; log:\n%s", i, err, b)
		}
		enter = append(enter, float64(time.Since(t0).Microseconds())/1000)

		t0 = time.Now()
		if err := podinfotest.Write(podinfoDir, normal, nil); err != nil {
			return err
		}
		if err := waitChan(listening, 30*time.Second); err != nil {
			return fmt.Errorf("toggle %d: leave: %w", i, err)
		}
		leave = append(leave, float64(time.Since(t0).Microseconds())/1000)
	}
	fmt.Printf("\nDebug-mode toggles: %d round trips of `doris-entrypoint fe` as PID 1 (fake FE), from the kubelet-style ..data swap.\n\n", n)
	fmt.Printf("| switch | median | p99 | max | target |\n|---|---|---|---|---|\n")
	for _, r := range []struct {
		name string
		v    []float64
	}{{"enter: FE stopped, query port answers the debug-mode error", enter}, {"leave: FE listening again, conf restored", leave}} {
		fmt.Printf("| %s | %.0f ms | %.0f ms | %.0f ms | median ≤ 200 ms, p99 ≤ 1 s |\n", r.name, median(r.v), percentile(r.v, 0.99), percentile(r.v, 1))
	}
	fmt.Printf("| anchor (doris-debug, TiDB runmode=debug) | enter at the next container start: 10–300 s of CrashLoopBackOff; leave: kubectl delete pod | | | |\n")
	return nil
}

func freePort() int {
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if p+1000 <= 65535 {
			return p
		}
	}
}

// listenEvents delivers one value per helper event line starting with prefix.
func listenEvents(path, prefix string) (<-chan struct{}, error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	ch := make(chan struct{}, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), prefix) {
						ch <- struct{}{}
					}
				}
			}()
		}
	}()
	return ch, nil
}

func waitChan(ch <-chan struct{}, d time.Duration) error {
	select {
	case <-ch:
		return nil
	case <-time.After(d):
		return fmt.Errorf("timed out after %s", d)
	}
}

// waitDebugError polls port until it answers with the debug-mode MySQL error.
func waitDebugError(port int, d time.Duration) error {
	deadline := time.Now().Add(d)
	buf := make([]byte, 256)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 100*time.Millisecond)
		if err == nil {
			c.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
			n, _ := c.Read(buf)
			c.Close()
			if bytes.Contains(buf[:n], []byte("debug mode")) {
				return nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("no debug-mode answer after %s", d)
}

func percentile(v []float64, p float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(p*float64(len(s))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

// stopUnshared stops an `unshare --pid --fork` command and waits for it:
// unshare forwards nothing, so PID 1 is found through its parent's child
// list and signalled directly.
func stopUnshared(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid)); len(b) > 0 {
		if pid, err := strconv.Atoi(strings.Fields(string(b))[0]); err == nil {
			syscall.Kill(pid, syscall.SIGTERM)
		}
	}
	cmd.Wait()
}
