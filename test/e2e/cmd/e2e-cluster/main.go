// Command e2e-cluster brings the e2e's single-node Kubernetes up with the
// images loaded and leaves it running, for trying the images by hand, and
// tears it down again:
//
//	make e2e-up      (go run ./test/e2e/cmd/e2e-cluster up)
//	make e2e-down    (go run ./test/e2e/cmd/e2e-cluster down)
//	go run ./test/e2e/cmd/e2e-cluster manifest fe|be|cn REPLICAS [TAG]
//	                 (the operator 26.0.0's objects for one component, for kubectl apply -f -)
//
// up starts "e2e-cluster serve" in its own session, which holds the daemons
// (they die with it) until down sends it SIGTERM; serve's log is DIR/up.log.
// DIR is $DORIS_E2E_DIR, default /var/tmp/doris-entrypoint-e2e. Root only.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/apache/doris-entrypoint/test/e2e/kube"
)

func main() {
	dir := os.Getenv("DORIS_E2E_DIR")
	if dir == "" {
		dir = "/var/tmp/doris-entrypoint-e2e"
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: e2e-cluster up|down|manifest COMP REPLICAS [TAG]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "manifest":
		err = manifest(dir, os.Args[2:])
	case "up":
		err = up(dir)
	case "serve":
		err = serve(dir)
	case "down":
		err = down(dir)
	default:
		err = fmt.Errorf("unknown command %q (up, down)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e-cluster:", err)
		os.Exit(1)
	}
}

// running is the pid of the serve process holding a cluster in dir, or 0.
func running(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

func up(dir string) error {
	ready := filepath.Join(dir, "ready")
	if running(dir) != 0 {
		b, err := os.ReadFile(ready)
		if err == nil {
			fmt.Print(string(b))
			return nil
		}
		return fmt.Errorf("a cluster is starting in %s (see %s/up.log)", dir, dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	log, err := os.Create(filepath.Join(dir, "up.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(self, "serve")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fmt.Fprintf(os.Stderr, "e2e-cluster: starting (building what is not cached: up to ~20 min cold); log %s\n", log.Name())
	for {
		select {
		case err := <-exited:
			b, _ := os.ReadFile(log.Name())
			return fmt.Errorf("serve exited (%v):\n%s", err, kube.Tail(string(b), 40))
		case <-time.After(time.Second):
		}
		if b, err := os.ReadFile(ready); err == nil {
			fmt.Print(string(b))
			return nil
		}
	}
}

func serve(dir string) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	repo, err := os.Getwd()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	c, p, err := kube.Up(repo, dir)
	if err != nil {
		os.Remove(filepath.Join(dir, "pid"))
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "kubeconfig: %s\nimages:\n", c.Kubeconfig)
	for _, img := range p.Images {
		fmt.Fprintf(&b, "  %s\n", img)
	}
	fmt.Fprintf(&b, "try:\n  %s --kubeconfig %s -n %s get pods,statefulsets,services\n", filepath.Join(c.Bin, "kubectl"), c.Kubeconfig, kube.Namespace)
	fmt.Fprintf(&b, "  go run ./test/e2e/cmd/e2e-cluster manifest fe 3 | %s --kubeconfig %s apply -f -   (the operator's objects: fe, be, cn; tags %s, %s, %s)\n",
		filepath.Join(c.Bin, "kubectl"), c.Kubeconfig, kube.Tag, kube.NextTag, kube.LastTag)
	fmt.Fprintf(&b, "down: make e2e-down\n")
	if err := os.WriteFile(filepath.Join(dir, "ready"), []byte(b.String()), 0o644); err != nil {
		c.Stop()
		return err
	}
	fmt.Print(b.String())
	<-sig
	fmt.Println("e2e-cluster: tearing down")
	c.Stop()
	os.Remove(filepath.Join(dir, "ready"))
	os.Remove(filepath.Join(dir, "pid"))
	return nil
}

// manifest prints the operator's objects for one component
// (test/e2e/kube/workload), for the cluster in dir.
func manifest(dir string, args []string) error {
	if len(args) < 2 || len(args) > 3 {
		return errors.New("usage: e2e-cluster manifest fe|be|cn REPLICAS [TAG]")
	}
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 0 {
		return fmt.Errorf("replicas %q: want a number", args[1])
	}
	w := kube.Workload{Comp: args[0], Replicas: n, Env: map[string]string{"DORIS_ENTRYPOINT_NEW_CLUSTER_WAIT": "5s"}}
	if len(args) == 3 {
		w.Tag = args[2]
	}
	m, err := (&kube.Cluster{Dir: dir}).Manifest(w)
	if err != nil {
		return err
	}
	fmt.Print(m)
	return nil
}

func down(dir string) error {
	pid := running(dir)
	if pid == 0 {
		fmt.Fprintln(os.Stderr, "e2e-cluster: no cluster running in", dir)
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return err
	}
	deadline := time.Now().Add(3 * time.Minute)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			return errors.New("the cluster did not stop within 3 min; see " + filepath.Join(dir, "up.log"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, "e2e-cluster: down")
	return os.RemoveAll(dir)
}
