// Command bench compares doris-entrypoint with tini, dumb-init and catatonit
// as PID 1 of a fresh PID namespace (unshare --pid --fork --mount-proc), in
// one run, interleaved, and prints medians and ratios against tini:
//
//   - start latency: exec of the init → first instruction of the child's main
//   - idle RSS of PID 1
//   - binary size
//   - SIGTERM forwarding latency: kill(init) → the child's handler runs
//   - reaping a burst of 2,000 orphans: release → the last one reaped
//   - grandchild cleanup: SIGTERM → init exit, for a child that dies at once
//     and a grandchild that cleans up for 0.5 s; and whether the cleanup
//     completed (the group-signalling mode of each init is used: tini -g,
//     catatonit -g, dumb-init's default setsid mode)
//
// The child is probe.c, a static C program, so that no runtime start-up is
// measured. Needs root, gcc with a static libc, and the inits (install-inits.sh).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

type initSpec struct {
	name  string
	path  string
	argv  []string // prefix before the child
	group []string // prefix that signals the child's whole process group
	// readyLog is the stderr text that says the init handles signals; empty
	// when it does from the start (it blocks signals before it forks).
	readyLog string
}

func main() {
	entry := flag.String("entrypoint", "bin/doris-entrypoint", "doris-entrypoint binary")
	reps := flag.Int("reps", 15, "repetitions of every workload for every init")
	orphans := flag.Int("orphans", 2000, "orphans in the reaping burst")
	toggles := flag.Int("toggles", 30, "debug-mode round trips (0 skips them)")
	joins := flag.Int("joins", 15, "BE and FE joins of a running fake cluster (0 skips them)")
	probeRate := flag.Int("probe-rate", 1000, "probe requests per second in the probe benchmark (0 skips it)")
	probeFor := flag.Duration("probe-for", 10*time.Second, "how long the probe benchmark sends requests")
	flag.Parse()
	if err := run(*entry, *reps, *orphans, *toggles, *joins, *probeRate, *probeFor); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// forwardSamples is how many forwarding latencies each repetition measures.
const forwardSamples = 5

// sample collects one metric's values per init.
type sample map[string][]float64

func run(entry string, reps, orphans, toggles, joins, probeRate int, probeFor time.Duration) error {
	entry, err := filepath.Abs(entry)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	probe := filepath.Join(dir, "probe")
	src := "test/bench/probe/probe.c" // make bench runs from the repository root
	if out, err := exec.Command("gcc", "-O2", "-static", "-o", probe, src).CombinedOutput(); err != nil {
		return fmt.Errorf("gcc probe.c: %v\n%s", err, out)
	}
	inits := []initSpec{
		{"doris-entrypoint", entry, []string{entry, "supervise", "--"}, []string{entry, "supervise", "--"}, `"msg":"child started"`},
		{"tini", "/usr/bin/tini", []string{"/usr/bin/tini", "--"}, []string{"/usr/bin/tini", "-g", "--"}, ""},
		{"dumb-init", "/usr/bin/dumb-init", []string{"/usr/bin/dumb-init"}, []string{"/usr/bin/dumb-init"}, ""},
		{"catatonit", "/usr/bin/catatonit", []string{"/usr/bin/catatonit", "--"}, []string{"/usr/bin/catatonit", "-g", "--"}, ""},
	}
	for _, in := range inits {
		if _, err := os.Stat(in.path); err != nil {
			return fmt.Errorf("%s: %v (run test/bench/install-inits.sh)", in.name, err)
		}
	}

	start, rss, fwd, reap, stop := sample{}, sample{}, sample{}, sample{}, sample{}
	rssAnon, fwdIdle := sample{}, sample{}
	cleaned := map[string]int{}
	for r := 0; r < reps; r++ {
		fmt.Fprintf(os.Stderr, "rep %d/%d\n", r+1, reps)
		for _, in := range inits {
			v, err := measureStart(probe, in)
			if err != nil {
				return fmt.Errorf("%s start: %w", in.name, err)
			}
			start[in.name] = append(start[in.name], v)

			v, anon, late, err := measureIdle(probe, in)
			if err != nil {
				return fmt.Errorf("%s idle: %w", in.name, err)
			}
			rss[in.name] = append(rss[in.name], v)
			rssAnon[in.name] = append(rssAnon[in.name], anon)
			fwdIdle[in.name] = append(fwdIdle[in.name], late)

			// Forwarding takes tens of microseconds, where scheduling noise
			// is of the same size: take more samples of it.
			for k := 0; k < forwardSamples; k++ {
				v, err = measureForward(probe, in)
				if err != nil {
					return fmt.Errorf("%s forward: %w", in.name, err)
				}
				fwd[in.name] = append(fwd[in.name], v)
			}

			v, err = measureReap(probe, in, orphans)
			if err != nil {
				return fmt.Errorf("%s reap: %w", in.name, err)
			}
			reap[in.name] = append(reap[in.name], v)

			v, ok, err := measureCleanup(probe, in, dir)
			if err != nil {
				return fmt.Errorf("%s cleanup: %w", in.name, err)
			}
			stop[in.name] = append(stop[in.name], v)
			if ok {
				cleaned[in.name]++
			}
		}
	}

	fmt.Printf("PID-1 benchmark: %d repetitions each, interleaved; medians; ratio = value / tini's.\n", reps)
	fmt.Printf("machine: %s; %d CPUs; kernel %s; %s\n\n", cpuModel(), numCPU(), kernel(), time.Now().UTC().Format("2006-01-02"))
	names := []string{"doris-entrypoint", "tini", "dumb-init", "catatonit"}
	fmt.Printf("| metric | %s | target |\n|---|%s---|\n", strings.Join(names, " | "), strings.Repeat("---|", len(names)))
	row := func(metric, unit string, s sample, target string) {
		base := median(s["tini"])
		cells := make([]string, 0, len(names))
		for _, n := range names {
			m := median(s[n])
			cells = append(cells, fmt.Sprintf("%s %s (%.2f×)", fmtNum(m), unit, m/base))
		}
		fmt.Printf("| %s | %s | %s |\n", metric, strings.Join(cells, " | "), target)
	}
	row("start latency (exec of init → child's main)", "ms", start, "≤ 1.0× tini")
	row(fmt.Sprintf("idle RSS of PID 1 (%s after the child started)", idleSettle), "MiB", rss, "≤ 8 MiB")
	row("  of which anonymous (heap, stacks)", "MiB", rssAnon, "—")
	row(fmt.Sprintf("SIGTERM forwarding latency, right after start (%d samples per repetition)", forwardSamples), "ms", fwd, "≤ 1.3× tini")
	row(fmt.Sprintf("SIGTERM forwarding latency, idle (%s after start)", idleSettle), "ms", fwdIdle, "≤ 1.3× tini")
	row(fmt.Sprintf("reap a burst of %d orphans", orphans), "ms", reap, "≤ 1.0× tini")
	row("SIGTERM → exit, grandchild cleans up 0.5 s", "ms", stop, "cleanup completes")
	sizes := make([]string, 0, len(names))
	var tiniSize float64
	for _, in := range inits {
		if in.name == "tini" {
			tiniSize = fileSize(in.path)
		}
	}
	for _, in := range inits {
		sz := fileSize(in.path)
		sizes = append(sizes, fmt.Sprintf("%.0f KiB (%.1f×)", sz/1024, sz/tiniSize))
	}
	fmt.Printf("| binary size | %s | — |\n", strings.Join(sizes, " | "))
	done := make([]string, 0, len(names))
	for _, n := range names {
		done = append(done, fmt.Sprintf("%d of %d", cleaned[n], reps))
	}
	fmt.Printf("| grandchild cleanup completed | %s | 100 %% |\n", strings.Join(done, " | "))
	if toggles > 0 {
		if err := benchToggles(entry, dir, toggles); err != nil {
			return err
		}
	}
	if joins > 0 {
		if err := benchJoins(entry, dir, joins); err != nil {
			return err
		}
	}
	if probeRate > 0 {
		return benchProbes(entry, dir, probeRate, probeFor)
	}
	return nil
}

// launch starts the init as PID 1 of a new PID namespace with the probe as
// its child; stdout is the child's (passed through by the init).
type launched struct {
	cmd   *exec.Cmd
	out   *bufio.Reader
	ready chan struct{} // closed once the init handles signals
	init  int           // the init's pid in our namespace
}

// launch starts prefix + child. tini, dumb-init and catatonit block signals
// before they fork, so they handle signals from the start; doris-entrypoint
// may start its child before the Go runtime has its handlers (earlystart),
// so ready waits for its "child started" log line.
func launch(in initSpec, prefix []string, child ...string) (*launched, error) {
	argv := append([]string{"unshare", "--pid", "--fork", "--mount-proc"}, prefix...)
	argv = append(argv, child...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "DORIS_ENTRYPOINT_LOG_FORMAT=json")
	l := &launched{cmd: cmd, ready: make(chan struct{})}
	var logs io.Reader
	if in.readyLog != "" {
		p, err := cmd.StderrPipe()
		if err != nil {
			return nil, err
		}
		logs = p
	} else {
		cmd.Stderr = io.Discard
		close(l.ready)
	}
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	l.out = bufio.NewReader(pipe)
	if logs != nil {
		go func() {
			sc := bufio.NewScanner(logs)
			ready := false
			for sc.Scan() {
				if !ready && strings.Contains(sc.Text(), in.readyLog) {
					ready = true
					close(l.ready)
				}
			}
			if !ready {
				close(l.ready)
			}
		}()
	}
	return l, nil
}

// initPID returns the init's pid (unshare's child); the init must still run.
func (l *launched) initPID() (int, error) {
	if l.init > 0 {
		return l.init, nil
	}
	pid := l.cmd.Process.Pid
	file := fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(file)
		if f := strings.Fields(string(b)); len(f) > 0 {
			l.init, _ = strconv.Atoi(f[0])
			return l.init, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no init below unshare")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func (l *launched) line() (string, error) {
	s, err := l.out.ReadString('\n')
	return strings.TrimSpace(s), err
}

func (l *launched) number() (float64, error) {
	s, err := l.line()
	if err != nil {
		return 0, fmt.Errorf("reading the probe: %w", err)
	}
	return strconv.ParseFloat(s, 64)
}

func (l *launched) expect(want string) error {
	s, err := l.line()
	if err != nil || s != want {
		return fmt.Errorf("probe said %q (%v), want %q", s, err, want)
	}
	return nil
}

func (l *launched) wait() error {
	done := make(chan error, 1)
	go func() { done <- l.cmd.Wait() }()
	select {
	case <-done:
		return nil
	case <-time.After(60 * time.Second):
		l.cmd.Process.Kill()
		if l.init > 0 {
			syscall.Kill(l.init, syscall.SIGKILL)
		}
		<-done
		return fmt.Errorf("init did not exit within 60s")
	}
}

func monoNS() float64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return float64(ts.Nano())
}

func measureStart(probe string, in initSpec) (float64, error) {
	prefix := append([]string{probe, "stamp"}, in.argv...)
	l, err := launch(in, prefix, probe, "start")
	if err != nil {
		return 0, err
	}
	ns, err := l.number()
	if werr := l.wait(); err == nil {
		err = werr
	}
	return ns / 1e6, err
}

// idleSettle is how long an init runs before it counts as idle: past its
// start-up work (doris-entrypoint drops its start-up pages 1 s after the
// child starts: supervisor.TrimResident).
const idleSettle = 1500 * time.Millisecond

// measureIdle lets the init settle, reads its resident set (all, and the
// anonymous part), then measures the SIGTERM forwarding latency of an init
// that has been idle.
func measureIdle(probe string, in initSpec) (rss, anon, fwd float64, err error) {
	l, err := launch(in, in.argv, probe, "wait-term")
	if err != nil {
		return 0, 0, 0, err
	}
	if err := l.expect("ready"); err != nil {
		l.wait()
		return 0, 0, 0, err
	}
	<-l.ready
	pid, err := l.initPID()
	if err != nil {
		l.wait()
		return 0, 0, 0, err
	}
	time.Sleep(idleSettle)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		l.wait()
		return 0, 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "RssAnon:":
			anon = kb / 1024
		}
	}
	t0 := monoNS()
	syscall.Kill(pid, syscall.SIGTERM)
	t1, err := l.number()
	if werr := l.wait(); err == nil {
		err = werr
	}
	return rss, anon, (t1 - t0) / 1e6, err
}

func measureForward(probe string, in initSpec) (float64, error) {
	l, err := launch(in, in.argv, probe, "wait-term")
	if err != nil {
		return 0, err
	}
	if err := l.expect("ready"); err != nil {
		l.wait()
		return 0, err
	}
	<-l.ready
	pid, err := l.initPID()
	if err != nil {
		l.wait()
		return 0, err
	}
	t0 := monoNS()
	syscall.Kill(pid, syscall.SIGTERM)
	t1, err := l.number()
	if werr := l.wait(); err == nil {
		err = werr
	}
	return (t1 - t0) / 1e6, err
}

func measureReap(probe string, in initSpec, n int) (float64, error) {
	l, err := launch(in, in.argv, probe, "orphans", strconv.Itoa(n))
	if err != nil {
		return 0, err
	}
	ns, err := l.number()
	if werr := l.wait(); err == nil {
		err = werr
	}
	return ns / 1e6, err
}

func measureCleanup(probe string, in initSpec, dir string) (float64, bool, error) {
	file := filepath.Join(dir, "cleaned-"+in.name)
	os.Remove(file)
	l, err := launch(in, in.group, probe, "cleanup", "500", file)
	if err != nil {
		return 0, false, err
	}
	if err := l.expect("ready"); err != nil {
		l.wait()
		return 0, false, err
	}
	<-l.ready
	pid, err := l.initPID()
	if err != nil {
		l.wait()
		return 0, false, err
	}
	t0 := monoNS()
	syscall.Kill(pid, syscall.SIGTERM)
	err = l.wait()
	el := (monoNS() - t0) / 1e6
	_, statErr := os.Stat(file)
	return el, statErr == nil, err
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtNum(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func fileSize(p string) float64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return float64(fi.Size())
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			if i := strings.Index(line, ":"); i > 0 {
				return strings.TrimSpace(line[i+1:])
			}
		}
	}
	return "unknown CPU"
}

func numCPU() int {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) == nil {
		return set.Count()
	}
	return 0
}

func kernel() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "?"
	}
	return unix.ByteSliceToString(u.Release[:])
}
