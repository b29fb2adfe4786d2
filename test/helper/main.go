// Command helper is the child process of the black-box tests: one binary with
// small behaviours (exit with a code, record signals, trap TERM and clean up,
// ignore TERM, spawn orphans, report its fds). It reports what happens as
// lines on the unix socket named by $HELPER_EVENTS, so tests wait on events
// rather than on sleeps.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/confpatch"
	"github.com/apache/doris-entrypoint/supervisor"
	"github.com/apache/doris-entrypoint/supervisor/sigfwd"
	"github.com/apache/doris-entrypoint/test/fakedoris"
)

func main() {
	if len(os.Args) < 2 {
		fatalf("usage: helper COMMAND [ARGS]")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "exit":
		os.Exit(atoi(arg(args, 0)))
	case "kill-self":
		killSelf(syscall.Signal(atoi(arg(args, 0))))
	case "signals":
		signals(len(args) > 0 && args[0] == "--grandchild")
	case "trap-term":
		trapTerm(duration(arg(args, 0)))
	case "leave":
		leave(duration(arg(args, 0)), atoi(arg(args, 1)))
	case "tree":
		tree(duration(arg(args, 0)))
	case "ignore-term":
		ignoreTerm(len(args) > 0 && args[0] == "--grandchild")
	case "orphans":
		orphans(atoi(arg(args, 0)))
	case "spawn-cats":
		spawnCats(atoi(arg(args, 0)))
	case "report":
		report()
	case "serve-conf":
		serveConf(arg(args, 0), args[1:])
	case "fake-fe": // fake-fe CONF [start_fe.sh args]: $FAKE_DIR, $POD_FQDN
		self := selfHost()
		emit("fake-fe %s %s", self, strings.Join(args[1:], " "))
		must(fakedoris.RunFE(arg(args, 0), args[1:], os.Getenv("FAKE_DIR"), self))
		emit("fake-fe-stopped %s", self)
	case "fake-be": // fake-be CONF
		emit("fake-be %s", os.Getenv("POD_FQDN"))
		must(fakedoris.RunBE(arg(args, 0)))
		emit("fake-be-stopped %s", os.Getenv("POD_FQDN"))
	case "fake-broker": // fake-broker CONF [start_broker.sh args]
		emit("fake-broker %s %s", os.Getenv("POD_FQDN"), strings.Join(args[1:], " "))
		must(fakedoris.RunBroker(arg(args, 0)))
		emit("fake-broker-stopped %s", os.Getenv("POD_FQDN"))
	case "fe-jar": // fe-jar OUT VERSION: a doris-fe.jar whose Version.class reports VERSION
		must(fakedoris.WriteFEJar(arg(args, 0), arg(args, 1)))
	case "default-version": // the fake's DefaultVersion
		fmt.Println(fakedoris.DefaultVersion)
	case "be-version": // be-version VERSION: the line doris_be --version prints
		fmt.Println(fakedoris.BEVersionLine(arg(args, 0)))
	case "report-started":
		emit("started %d", os.Getpid())
	case "print":
		fmt.Fprint(os.Stdout, "to-stdout\n")
		fmt.Fprint(os.Stderr, "to-stderr\n")
	default:
		fatalf("unknown command %q", os.Args[1])
	}
}

// selfHost is the fake FE's own Host column: $POD_FQDN (the tests set it),
// else what a real FE in FQDN mode finds, the host's FQDN from /etc/hosts
// (the kubelet writes "IP <pod>.<subdomain>.<ns>.svc.<domain> <pod>" for a
// StatefulSet pod), as hostname -f does.
func selfHost() string {
	if h := os.Getenv("POD_FQDN"); h != "" {
		return h
	}
	h, err := cluster.Identity(false, os.Getenv, "/etc/hosts")
	if err != nil {
		fatalf("fake-fe: own host name: %v", err)
	}
	return h
}

// emit sends one event line to the test.
func emit(format string, a ...any) {
	path := os.Getenv("HELPER_EVENTS")
	if path == "" {
		return
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "helper: events: %v\n", err)
		return
	}
	defer c.Close()
	fmt.Fprintf(c, format+"\n", a...)
}

func killSelf(sig syscall.Signal) {
	// No core files from SIGQUIT/SIGABRT/SIGSEGV in the test's directory.
	syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
	// Go's own "default" for SIGQUIT, SIGABRT, SIGSEGV... is exit(2) after a
	// stack dump: install the kernel's SIG_DFL instead, so the signal kills.
	var act struct {
		handler, flags, restorer, mask uint64
	} // struct sigaction, amd64/arm64 kernel layout; zero handler = SIG_DFL
	if sig == syscall.SIGKILL {
		syscall.Kill(os.Getpid(), sig)
	}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0); e != 0 {
		fatalf("sigaction: %v", e)
	}
	syscall.Kill(os.Getpid(), sig)
	block()
}

// signals records every signal it receives; SIGTERM ends it with code 0. It
// catches them with the supervisor's own handler (sigfwd, no target set), the
// only way a Go program can catch SIGRTMIN.
func signals(grandchild bool) {
	f, err := sigfwd.Start(supervisor.ForwardedSignals()...)
	must(err)
	role := "child"
	if os.Getenv("HELPER_ROLE") != "" {
		role = os.Getenv("HELPER_ROLE")
	}
	if grandchild {
		startSameGroup(exec.Command(self(), "signals"), "HELPER_ROLE=grandchild")
	}
	emit("ready %s %d", role, os.Getpid())
	for ev := range f.Events() {
		emit("sig %s %d", role, int(ev.Signal))
		if ev.Signal == syscall.SIGTERM {
			os.Exit(0)
		}
	}
}

// trapTerm cleans up for d after SIGTERM, then exits 0.
func trapTerm(d time.Duration) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM)
	emit("ready trap %d", os.Getpid())
	if os.Getenv("HELPER_READY_STDOUT") != "" {
		fmt.Println("ready")
	}
	<-c
	emit("got %d", os.Getpid())
	time.Sleep(d) // the cleanup being simulated
	emit("clean %d", os.Getpid())
	os.Exit(0)
}

// leave starts two processes that need d to clean up after SIGTERM, one in
// our process group and one in a session of its own, waits until both trap
// TERM, and exits with code: they are left behind.
func leave(d time.Duration, code int) {
	for _, setsid := range []bool{false, true} {
		cmd := exec.Command(self(), "trap-term", d.String())
		cmd.Env = append(os.Environ(), "HELPER_READY_STDOUT=1")
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: setsid}
		out, err := cmd.StdoutPipe()
		must(err)
		must(cmd.Start())
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "ready\n" {
			fatalf("leftover not ready: %q %v", line, err)
		}
	}
	os.Exit(code)
}

// tree starts a grandchild that needs d to clean up after SIGTERM, in the same
// process group, and then waits to be killed by SIGTERM (Go's default).
func tree(d time.Duration) {
	startSameGroup(exec.Command(self(), "trap-term", d.String()))
	emit("ready tree %d", os.Getpid())
	block()
}

// ignoreTerm catches and ignores SIGTERM, optionally with a grandchild that
// does the same.
func ignoreTerm(grandchild bool) {
	c := make(chan os.Signal, 16)
	signal.Notify(c, syscall.SIGTERM)
	role := "child"
	if r := os.Getenv("HELPER_ROLE"); r != "" {
		role = r
	}
	if grandchild {
		startSameGroup(exec.Command(self(), "ignore-term"), "HELPER_ROLE=grandchild")
	}
	emit("ready ignore %s %d", role, os.Getpid())
	for range c {
		emit("term %s %d", role, os.Getpid())
	}
}

// orphans makes n orphans (cat processes whose parent has exited), lets them
// all exit at once, then waits until none is left and reports the zombies.
func orphans(n int) {
	r, w, err := os.Pipe()
	must(err)
	mid := exec.Command(self(), "spawn-cats", strconv.Itoa(n))
	mid.Stdin = r
	out, err := mid.Output() // mid exits once the cats run: they are orphans now
	must(err)
	r.Close()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		pids = append(pids, atoi(f))
	}
	emit("orphans-ready %d", len(pids))
	w.Close() // every cat reads EOF and exits at once
	deadline := time.Now().Add(60 * time.Second)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil { // a zombie still answers kill(0)
			if time.Now().After(deadline) {
				emit("orphans-timeout %d", pid)
				os.Exit(1)
			}
			time.Sleep(time.Millisecond)
		}
	}
	emit("orphans-gone %d zombies=%d", len(pids), zombies())
}

// spawnCats starts n cat processes reading our stdin and prints their pids.
func spawnCats(n int) {
	cat, err := exec.LookPath("cat")
	must(err)
	w := bufio.NewWriter(os.Stdout)
	for i := 0; i < n; i++ {
		p, err := os.StartProcess(cat, []string{"cat"}, &os.ProcAttr{Files: []*os.File{os.Stdin, nil, nil}})
		must(err)
		fmt.Fprintln(w, p.Pid)
	}
	must(w.Flush())
	os.Exit(0)
}

// zombies counts processes in state Z visible in /proc.
func zombies() int {
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i > 0 && strings.HasPrefix(s[i+1:], " Z") {
			n++
		}
	}
	return n
}

// report sends one JSON event describing the process: cwd, argv, env,
// open fds and what they point to, and its process group.
func report() {
	fds := map[string]string{}
	entries, _ := os.ReadDir("/proc/self/fd")
	for _, e := range entries {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err == nil {
			fds[e.Name()] = target
		}
	}
	cwd, _ := os.Getwd()
	b, _ := json.Marshal(map[string]any{
		"cwd": cwd, "args": os.Args, "env": os.Environ(), "fds": fds,
		"pid": os.Getpid(), "pgid": syscall.Getpgrp(),
	})
	emit("report %s", b)
}

// serveConf is a fake Doris server: it listens on the ports that keys have
// in the conf file (last assignment wins, as in Doris), reports them, and
// exits 0 on SIGTERM.
func serveConf(conf string, keys []string) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM)
	data, err := os.ReadFile(conf)
	must(err)
	var ports []string
	var lns []net.Listener
	for _, k := range keys {
		v, ok := confpatch.Value(data, k)
		if !ok {
			fatalf("%s not in %s", k, conf)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+v)
		must(err)
		lns = append(lns, ln)
		ports = append(ports, k+"="+v)
	}
	emit("listening %s", strings.Join(ports, " "))
	<-c
	for _, ln := range lns {
		ln.Close()
	}
	emit("stopped %s", strings.Join(ports, " "))
	os.Exit(0)
}

// block waits forever (select{} would trip the runtime's deadlock check).
func block() {
	for {
		time.Sleep(time.Hour)
	}
}

// startSameGroup starts cmd in our process group with our stdio.
func startSameGroup(cmd *exec.Cmd, env ...string) {
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), env...)
	must(cmd.Start())
}

func self() string {
	p, err := os.Executable()
	must(err)
	return p
}

func arg(args []string, i int) string {
	if i >= len(args) {
		fatalf("missing argument %d", i+1)
	}
	return args[i]
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fatalf("not a number: %q", s)
	}
	return n
}

func duration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		fatalf("not a duration: %q", s)
	}
	return d
}

func must(err error) {
	if err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "helper: "+format+"\n", a...)
	os.Exit(99)
}
