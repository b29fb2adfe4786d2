package fakedoris

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/apache/doris-entrypoint/confpatch"
	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/server"
)

// A fake node is what a fake start_fe.sh / start_be.sh execs in place of
// java / doris_be: it listens on the conf's ports until SIGTERM.
//
// Fake FEs of one cluster share a directory, FAKE_DIR (in a Kubernetes
// test a hostPath mounted in every FE pod):
//
//	FAKE_DIR/master        the master's MySQL address, "ip:port" (POD_IP when set)
//	FAKE_DIR/cluster.json  the durable state the master writes after each change (persist.go)
//	FAKE_DIR/epoch.N       one per master term: created O_EXCL by the FE that became master N
//
// One FE is master: it answers from its Cluster and heartbeats every node
// each FAKE_HEARTBEAT (a Go duration, default 1s), as Doris' HeartbeatMgr
// does (apache/doris fe/fe-core/src/main/java/org/apache/doris/system/HeartbeatMgr.java):
// a frontend is dialled at its Host and QueryPort and asked
// SELECT @@version_comment (its version; reached: Alive and Join), a backend
// at its Host and HeartbeatPort, where the fake BE writes one line, its
// version, and closes (reached: Alive; not: Alive=false at the first
// failure, Config.max_backend_heartbeat_failure_tolerance_count = 1);
// brokers keep the Alive they were added with (a test's hosts may not
// resolve a broker's name). The other FEs forward every statement to the
// address in FAKE_DIR/master, as a Doris follower forwards to the master,
// and check the master with a MySQL login each round: after 3 failed rounds the alive
// follower whose Host sorts first (the next one after 3 more, and so on)
// claims the next epoch file; the one whose O_EXCL create succeeds loads
// cluster.json and is master (a new master: configs at their defaults), so
// there is never more than one per epoch, and a master that sees a later
// epoch steps down to a forwarder.

func confPort(data []byte, key string, def int) int {
	p, err := confpatch.PortValue(data, confpatch.Port{Key: key, Default: def})
	if err != nil {
		return def
	}
	return p
}

// FEOptions start a fake FE process (StartFE).
type FEOptions struct {
	Conf      string        // fe.conf: query_port, http_port, edit_log_port, rpc_port
	Args      []string      // start_fe.sh's (--helper HOST:PORT: joining)
	Dir       string        // FAKE_DIR
	Self      string        // its Host column (POD_FQDN)
	Bind      string        // the listening host ("": 127.0.0.1)
	Advertise string        // the host others dial ("": the listener's)
	Heartbeat time.Duration // 0: 1s
	Version   string        // "": OwnVersion
}

// FENode is a fake FE process: master or forwarder, switching on a
// failover.
type FENode struct {
	o      FEOptions
	addr   string // dialable: FAKE_DIR/master when master
	ports  Frontend
	ln     net.Listener
	cancel context.CancelFunc
	done   chan struct{}

	helper string // --helper's HOST:EDIT_LOG_PORT ("": none)

	mu     sync.Mutex
	c      *Cluster // this FE's own (master: the cluster's; forwarder: unused)
	master bool
	epoch  int
	saved  []byte // cluster.json as last written
	ready  bool   // serving: a master at once, a forwarder after its replay (replay)
}

// RunFE runs a fake FE for conf with start_fe.sh's arguments; self is its
// host name (POD_FQDN); dir is shared by the cluster's fake FEs
// ($FAKE_DIR). It listens on $FAKE_BIND_HOST and advertises $POD_IP.
func RunFE(conf string, args []string, dir, self string) error {
	hb := time.Second
	if d, err := time.ParseDuration(os.Getenv("FAKE_HEARTBEAT")); err == nil && d > 0 {
		hb = d
	}
	n, err := StartFE(FEOptions{Conf: conf, Args: args, Dir: dir, Self: self, Bind: bindHost(), Advertise: os.Getenv("POD_IP"), Heartbeat: hb})
	if err != nil {
		return err
	}
	defer n.Close()
	// A started FE has metadata from now on.
	meta := filepath.Join(filepath.Dir(filepath.Dir(conf)), "doris-meta", "image")
	if err := os.MkdirAll(meta, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(meta, "ROLE"), []byte("role=FOLLOWER\n"), 0o644); err != nil {
		return err
	}
	return serveUntilTERM(n.ports.HTTPPort, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Cluster().FEHealth().ServeHTTP(w, r)
	}), nil)
}

// StartFE starts a fake FE: master when it starts without --helper and
// the cluster has no master yet, or it was the master (FAKE_DIR/master
// holds its address, or cluster.json names it); a forwarder otherwise.
func StartFE(o FEOptions) (*FENode, error) {
	data, err := os.ReadFile(o.Conf)
	if err != nil {
		return nil, err
	}
	if o.Bind == "" {
		o.Bind = "127.0.0.1"
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = time.Second
	}
	if o.Version == "" {
		o.Version = OwnVersion()
	}
	n := &FENode{o: o, c: NewCluster(Layout21), done: make(chan struct{})}
	n.ports = Frontend{Host: o.Self, QueryPort: confPort(data, "query_port", 9030), HTTPPort: confPort(data, "http_port", 8030),
		EditLogPort: confPort(data, "edit_log_port", 9010), RPCPort: confPort(data, "rpc_port", 9020), ArrowPort: -1}
	for i, a := range o.Args {
		if a == "--helper" && i+1 < len(o.Args) {
			n.helper = o.Args[i+1]
		}
	}
	n.addr = net.JoinHostPort(o.Bind, strconv.Itoa(n.ports.QueryPort))
	if o.Advertise != "" {
		n.addr = net.JoinHostPort(o.Advertise, strconv.Itoa(n.ports.QueryPort))
	}
	if n.helper == "" {
		prev, _ := os.ReadFile(filepath.Join(o.Dir, "master"))
		st, err := loadState(o.Dir)
		if err != nil {
			return nil, err
		}
		if len(prev) == 0 || string(prev) == n.addr || (st != nil && st.Master == o.Self) {
			if err := n.listen(); err != nil {
				return nil, err
			}
			if _, err := n.takeOver(); err != nil {
				n.ln.Close()
				return nil, err
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go n.heartbeats(ctx)
	return n, nil
}

// listen opens the query port and serves it: a Doris FE opens it only
// once its catalog is ready (apache/doris fe/fe-core/src/main/java/org/apache/doris/DorisFE.java:
// Env.waitForReady before QeService starts), so a joining forwarder's is
// closed until its replay is done.
func (n *FENode) listen() error {
	ln, err := net.Listen("tcp", net.JoinHostPort(n.o.Bind, strconv.Itoa(n.ports.QueryPort)))
	if err != nil {
		return fmt.Errorf("fake fe: query port: %w", err)
	}
	if n.o.Advertise == "" && n.ports.QueryPort == 0 {
		n.addr = ln.Addr().String()
	}
	n.mu.Lock()
	n.ln, n.ready = ln, true
	n.mu.Unlock()
	go serveMySQL(ln, n, n.open)
	return nil
}

// Ready says the node serves its query port.
func (n *FENode) Ready() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ready
}

// Close stops the node (its state is on disk already).
func (n *FENode) Close() error {
	n.cancel()
	<-n.done
	n.mu.Lock()
	ln := n.ln
	n.mu.Unlock()
	if ln == nil {
		return nil
	}
	return ln.Close()
}

// IsMaster says whether the node is master now.
func (n *FENode) IsMaster() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.master
}

// Cluster is the node's cluster (the cluster's own while it is master).
func (n *FENode) Cluster() *Cluster {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.c
}

// Addr is the address the node advertises.
func (n *FENode) Addr() string { return n.addr }

// CheckUsername and GetCredential: the master's users while master; a
// forwarder lets root in without a password, as before.
func (n *FENode) CheckUsername(u string) (bool, error) {
	if c, ok := n.masterCluster(); ok {
		return credentials{c}.CheckUsername(u)
	}
	return rootOnly{}.CheckUsername(u)
}

func (n *FENode) GetCredential(u string) (string, bool, error) {
	if c, ok := n.masterCluster(); ok {
		return credentials{c}.GetCredential(u)
	}
	return rootOnly{}.GetCredential(u)
}

func (n *FENode) masterCluster() (*Cluster, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.c, n.master
}

// open serves one connection: as master or as forwarder, whichever the
// node is when it arrives.
func (n *FENode) open(net.Conn) (server.Handler, bool) {
	if c, ok := n.masterCluster(); ok {
		if c.takeDrop() {
			return nil, false
		}
		return &handler{fe: &FE{cluster: c, host: n.o.Self, version: n.o.Version}}, true
	}
	return &proxy{dir: n.o.Dir, version: n.o.Version}, true
}

// takeOver makes the node master of the next epoch, if it claims it
// first: cluster.json loaded (or a new cluster), itself the IsMaster row,
// FAKE_DIR/master its address.
func (n *FENode) takeOver() (bool, error) {
	epoch := highestEpoch(n.o.Dir) + 1
	f, err := os.OpenFile(filepath.Join(n.o.Dir, "epoch."+strconv.Itoa(epoch)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if errors.Is(err, os.ErrExist) {
		return false, nil // another FE became master of this epoch
	}
	if err != nil {
		return false, err
	}
	fmt.Fprintln(f, n.o.Self, n.addr)
	f.Close()
	st, err := loadState(n.o.Dir)
	if err != nil {
		return false, err
	}
	c := NewCluster(Layout21)
	if st != nil {
		c.restore(*st)
	}
	ports := n.ports
	c.mu.Lock()
	c.fePorts = &ports
	found := false
	for i := range c.frontends {
		fe := &c.frontends[i]
		fe.IsMaster = fe.Host == n.o.Self
		if fe.IsMaster {
			found = true
			fe.Alive, fe.Join, fe.Version, fe.LastHeartbeat = true, true, n.o.Version, time.Now()
			fe.QueryPort, fe.HTTPPort, fe.RPCPort = ports.QueryPort, ports.HTTPPort, ports.RPCPort
		}
	}
	if !found {
		c.frontends = append(c.frontends, Frontend{Host: n.o.Self, EditLogPort: ports.EditLogPort, HTTPPort: ports.HTTPPort,
			QueryPort: ports.QueryPort, RPCPort: ports.RPCPort, ArrowPort: -1, Role: "FOLLOWER", IsMaster: true, Alive: true,
			Join: true, Version: n.o.Version, LastHeartbeat: time.Now()})
	}
	c.onChange = n.persist
	c.heartbeats = true
	c.mu.Unlock()
	n.mu.Lock()
	n.c, n.master, n.epoch, n.saved = c, true, epoch, nil
	n.mu.Unlock()
	if err := n.persist1(); err != nil {
		return false, err
	}
	return true, writeFileAtomic(filepath.Join(n.o.Dir, "master"), []byte(n.addr))
}

// persist writes cluster.json if the state changed (the Cluster's hook
// after each statement, and after each heartbeat round).
func (n *FENode) persist() {
	if err := n.persist1(); err != nil {
		fmt.Fprintf(os.Stderr, "fake fe: persist: %v\n", err)
	}
}

func (n *FENode) persist1() error {
	n.mu.Lock()
	c, master, epoch := n.c, n.master, n.epoch
	n.mu.Unlock()
	if !master {
		return nil
	}
	b := encodeState(c.snapshot(epoch, n.o.Self))
	n.mu.Lock()
	defer n.mu.Unlock()
	if string(b) == string(n.saved) || !n.master || n.epoch != epoch {
		return nil
	}
	if err := writeFileAtomic(filepath.Join(n.o.Dir, stateFile), b); err != nil {
		return err
	}
	n.saved = b
	return nil
}

// highestEpoch is the largest N of FAKE_DIR/epoch.N (0: none).
func highestEpoch(dir string) int {
	entries, _ := os.ReadDir(dir)
	high := 0
	for _, e := range entries {
		if v, ok := strings.CutPrefix(e.Name(), "epoch."); ok {
			if k, err := strconv.Atoi(v); err == nil && k > high {
				high = k
			}
		}
	}
	return high
}

// heartbeats is the node's loop: a master heartbeats every node, a
// forwarder the master.
func (n *FENode) heartbeats(ctx context.Context) {
	defer close(n.done)
	t := time.NewTicker(n.o.Heartbeat)
	defer t.Stop()
	fails, last, learned := 0, "", ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !n.Ready() {
			learned = n.replay(ctx, learned)
			continue
		}
		if n.IsMaster() {
			fails, last = 0, ""
			n.mu.Lock()
			if highestEpoch(n.o.Dir) > n.epoch {
				n.master = false // a later master: forward to it
			}
			n.mu.Unlock()
			if n.IsMaster() {
				n.heartbeatRound(ctx)
			}
			continue
		}
		addr, _ := os.ReadFile(filepath.Join(n.o.Dir, "master"))
		if string(addr) != last {
			fails, last = 0, string(addr)
		}
		if len(addr) == 0 {
			continue
		}
		if _, err := n.dialFE(ctx, string(addr), false); err == nil {
			fails = 0
			continue
		}
		fails++
		if highestEpoch(n.o.Dir) == 0 && fails >= 3 {
			// FAKE_DIR is this FE's own (no master ever wrote it): find
			// the master again as the joining FE did.
			if m, err := n.findMaster(ctx); err == nil && m != string(addr) {
				if err := writeFileAtomic(filepath.Join(n.o.Dir, "master"), []byte(m)); err == nil {
					fmt.Fprintf(os.Stderr, "fake fe: %s follows the master at %s\n", n.o.Self, m)
					fails = 0
				}
			}
		}
		if rank := n.candidateRank(); rank >= 0 && fails >= 3*(rank+1) {
			if ok, err := n.takeOver(); err != nil {
				fmt.Fprintf(os.Stderr, "fake fe: take over: %v\n", err)
			} else if ok {
				fmt.Fprintf(os.Stderr, "fake fe: %s is master (the master at %s did not answer %d heartbeats)\n", n.o.Self, addr, fails)
			}
			fails = 0
		}
	}
}

// replay is a forwarder's start before it serves, one step per heartbeat
// interval: find the master (FAKE_DIR/master, else ask the helper) and
// check that it lists this FE, as Doris' Env.getFeNodeTypeAndNameFromHelpers
// asks the helper for this node's role and, while it is not listed, logs
// "current node is not added to the group. please add it first." and asks
// again (apache/doris fe/fe-core/src/main/java/org/apache/doris/catalog/Env.java);
// then, one interval later (its journal replayed), open the query port.
// learned is the master found at the previous step; it returns this step's.
func (n *FENode) replay(ctx context.Context, learned string) string {
	if learned != "" {
		if err := n.listen(); err != nil {
			fmt.Fprintf(os.Stderr, "fake fe: %v\n", err)
			return learned
		}
		fmt.Fprintf(os.Stderr, "fake fe: %s ready, forwarding to the master at %s\n", n.o.Self, learned)
		return learned
	}
	m, err := n.findMaster(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fake fe: %s not ready: %v\n", n.o.Self, err)
		return ""
	}
	path := filepath.Join(n.o.Dir, "master")
	if prev, _ := os.ReadFile(path); string(prev) != m {
		// FAKE_DIR is this FE's own (an unmodified operator shares none):
		// keep the master for a restart without --helper, as Doris keeps
		// the group in its metadata.
		if err := writeFileAtomic(path, []byte(m)); err != nil {
			fmt.Fprintf(os.Stderr, "fake fe: %v\n", err)
			return ""
		}
	}
	if n.helper != "" && highestEpoch(n.o.Dir) == 0 {
		writeFileAtomic(filepath.Join(n.o.Dir, "helper"), []byte(n.helper))
	}
	return m
}

// findMaster is the master's query address and whether it lists this FE:
// FAKE_DIR/master when a master wrote it (a shared FAKE_DIR), else the
// IsMaster row of SHOW FRONTENDS asked of the helper (--helper, or the one
// a first start kept) at this FE's query port (Doris assumes every FE has
// the same ports: the helper's http_port is dialled at Config.http_port),
// or of the master last known.
func (n *FENode) findMaster(ctx context.Context) (string, error) {
	known, _ := os.ReadFile(filepath.Join(n.o.Dir, "master"))
	if len(known) > 0 && highestEpoch(n.o.Dir) > 0 {
		// Shared: the master's own word (POD_IP:port), checked for this
		// FE's row.
		if _, err := n.masterFrom(ctx, string(known)); err != nil {
			return "", fmt.Errorf("%s: %w", known, err)
		}
		return string(known), nil
	}
	var seeds []string
	helper := n.helper
	if helper == "" {
		b, _ := os.ReadFile(filepath.Join(n.o.Dir, "helper"))
		helper = string(b)
	}
	if h, _, err := net.SplitHostPort(helper); err == nil {
		seeds = append(seeds, net.JoinHostPort(h, strconv.Itoa(n.ports.QueryPort)))
	}
	if len(known) > 0 {
		seeds = append(seeds, string(known))
	}
	if len(seeds) == 0 {
		return "", errors.New("no master known and no helper")
	}
	var errs []error
	for _, seed := range seeds {
		m, err := n.masterFrom(ctx, seed)
		if err == nil {
			return m, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", seed, err))
	}
	return "", errors.Join(errs...)
}

// masterFrom reads SHOW FRONTENDS on addr: the master's Host:QueryPort
// (addr itself when it is the master), once it lists this FE.
func (n *FENode) masterFrom(ctx context.Context, addr string) (string, error) {
	conn, err := client.ConnectWithDialer(ctx, "tcp", addr, "root", "", "", func(ctx context.Context, _, a string) (net.Conn, error) {
		return n.dial(ctx, a)
	})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	r, err := conn.Execute("SHOW FRONTENDS")
	if err != nil {
		return "", err
	}
	col := map[string]int{}
	for i, f := range r.Fields {
		col[string(f.Name)] = i
	}
	cell := func(row int, name string) string {
		i, ok := col[name]
		if !ok {
			return ""
		}
		s, _ := r.GetString(row, i)
		return s
	}
	master, listed := "", false
	for i := range r.RowNumber() {
		if cell(i, "Host") == n.o.Self && cell(i, "EditLogPort") == strconv.Itoa(n.ports.EditLogPort) {
			listed = true
		}
		if cell(i, "IsMaster") == "true" {
			master = net.JoinHostPort(cell(i, "Host"), cell(i, "QueryPort"))
		}
	}
	switch {
	case master == "":
		return "", errors.New("no master in SHOW FRONTENDS")
	case !listed:
		return "", errors.New("current node is not added to the group. please add it first.")
	}
	return master, nil
}

// candidateRank is this node's place among the alive followers (but the
// master) of cluster.json, by Host; -1: not one.
func (n *FENode) candidateRank() int {
	st, err := loadState(n.o.Dir)
	if err != nil || st == nil {
		return -1
	}
	var hosts []string
	for _, fe := range st.Frontends {
		if fe.Role == "FOLLOWER" && fe.Alive && !fe.IsMaster && fe.Host != st.Master {
			hosts = append(hosts, fe.Host)
		}
	}
	sort.Strings(hosts)
	for i, h := range hosts {
		if h == n.o.Self {
			return i
		}
	}
	return -1
}

type hbResult struct {
	ok      bool
	version string
}

// heartbeatRound dials every other node at once and records what it saw.
func (n *FENode) heartbeatRound(ctx context.Context) {
	c := n.Cluster()
	fes, bes := c.Frontends(), c.Backends()
	var wg sync.WaitGroup
	feRes, beRes := make([]hbResult, len(fes)), make([]hbResult, len(bes))
	for i, fe := range fes {
		if fe.Host == n.o.Self {
			continue
		}
		wg.Go(func() {
			v, err := n.dialFE(ctx, net.JoinHostPort(fe.Host, strconv.Itoa(fe.QueryPort)), true)
			feRes[i] = hbResult{err == nil, v}
		})
	}
	for i, be := range bes {
		wg.Go(func() {
			v, err := n.dialBE(ctx, net.JoinHostPort(be.Host, strconv.Itoa(be.HeartbeatPort)))
			beRes[i] = hbResult{err == nil, v}
		})
	}
	wg.Wait()
	now := time.Now()
	c.mu.Lock()
	for i := range c.frontends {
		fe := &c.frontends[i]
		if fe.Host == n.o.Self {
			fe.Alive, fe.Join, fe.IsMaster, fe.Version, fe.LastHeartbeat = true, true, true, n.o.Version, now
			continue
		}
		fe.IsMaster = false
		for j, was := range fes {
			if was.Host == fe.Host && was.EditLogPort == fe.EditLogPort {
				r := feRes[j]
				fe.Alive = r.ok
				if r.ok {
					fe.Join, fe.Version, fe.LastHeartbeat = true, r.version, now
				}
			}
		}
	}
	for i := range c.backends {
		be := &c.backends[i]
		for j, was := range bes {
			if was.ID == be.ID {
				r := beRes[j]
				if r.ok {
					version, role, _ := strings.Cut(r.version, " ")
					be.Alive, be.Version, be.LastHeartbeat, be.HeartbeatFailures = true, version, now, 0
					if role != "" {
						be.NodeRole = role
					}
				} else {
					be.HeartbeatFailures++
					be.Alive = false
				}
			}
		}
	}
	c.mu.Unlock()
	n.persist()
}

// dial connects (the name resolved through the cluster's DNS, as the
// FE's resolver does) and answers within one heartbeat interval, at least
// 1s (a loaded machine must not fail a short test interval's heartbeats
// into a failover) and at most 2s.
func (n *FENode) dial(ctx context.Context, addr string) (net.Conn, error) {
	d := min(max(n.o.Heartbeat, time.Second), 2*time.Second)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(d))
	return conn, nil
}

// dialFE is a frontend's heartbeat: a MySQL login as root and (ask) SELECT
// @@version_comment, its version. A forwarder checks the master with the
// login alone: no statement of its own in the master's log.
func (n *FENode) dialFE(ctx context.Context, addr string, ask bool) (string, error) {
	conn, err := client.ConnectWithDialer(ctx, "tcp", addr, "root", "", "", func(ctx context.Context, _, a string) (net.Conn, error) {
		return n.dial(ctx, a)
	})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if !ask {
		return "", nil
	}
	r, err := conn.Execute("SELECT @@version_comment")
	if err != nil {
		return "", err
	}
	s, err := r.GetString(0, 0)
	if err != nil {
		return "", err
	}
	return versionFromComment(s), nil
}

// dialBE is a backend's heartbeat: the fake BE's heartbeat port writes its
// version and closes; an empty answer (a held port in debug mode accepts
// and closes) is a failure, as a Doris BE that answers no heartbeat RPC.
func (n *FENode) dialBE(ctx context.Context, addr string) (string, error) {
	conn, err := n.dial(ctx, addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	line, _ := bufio.NewReader(conn).ReadString('\n')
	if line = strings.TrimSpace(line); line == "" {
		return "", errors.New("no heartbeat answer")
	}
	return line, nil
}

// RunBE runs a fake BE for conf: the heartbeat port answers the master's
// heartbeat with the BE's version (OwnVersion), the webserver serves
// /api/health.
func RunBE(conf string) error {
	data, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	hb, err := net.Listen("tcp", net.JoinHostPort(bindHost(), strconv.Itoa(confPort(data, "heartbeat_service_port", 9050))))
	if err != nil {
		return err
	}
	defer hb.Close()
	// The heartbeat's answer carries the BE's role as Doris' does
	// (THeartbeatResult backend_info.be_node_role, from be_node_role in
	// be.conf: apache/doris be/src/agent/heartbeat_server.cpp): a CN shows
	// NodeRole computation in SHOW BACKENDS.
	answer := OwnVersion()
	if role, ok := confpatch.BESyntax.Value(data, "be_node_role"); ok && strings.TrimSpace(role) != "" {
		answer += " " + strings.TrimSpace(role)
	}
	go ServeBEHeartbeat(hb, answer)
	// $FAKE_STOP_HEARTBEAT_FIRST: a BE whose heartbeat service is the first
	// to go when it stops (with $FAKE_STOP_DELAY, long enough for the
	// master to mark it dead before it exits: NodeRole then shows "").
	var first io.Closer
	if os.Getenv("FAKE_STOP_HEARTBEAT_FIRST") != "" {
		first = hb
	}
	return serveUntilTERM(confPort(data, "webserver_port", 8040), NewCluster(Layout21).BEHealth(), first)
}

// ServeBEHeartbeat answers each connection on ln with version and a
// newline, then closes it, until ln is closed.
func ServeBEHeartbeat(ln net.Listener, version string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.SetWriteDeadline(time.Now().Add(time.Second))
		fmt.Fprintln(c, version)
		c.Close()
	}
}

// bindHost is where a fake node listens: loopback, or $FAKE_BIND_HOST (a
// container on a network: 0.0.0.0).
func bindHost() string {
	if h := os.Getenv("FAKE_BIND_HOST"); h != "" {
		return h
	}
	return "127.0.0.1"
}

// holdStop plays a JVM whose graceful stop takes a while: with
// $FAKE_STOP_DELAY (a Go duration) it serves on that long after SIGTERM and
// then prints "cleanup done" on stdout; with $FAKE_STOP_GATE set, it creates
// $FAKE_STOP_GATE.term when SIGTERM arrives and goes on serving until the
// test creates $FAKE_STOP_GATE.
func holdStop() {
	if d, err := time.ParseDuration(os.Getenv("FAKE_STOP_DELAY")); err == nil {
		fmt.Println("fake node: SIGTERM received, cleaning up for", d)
		time.Sleep(d)
		fmt.Println("fake node: cleanup done")
	}
	gate := os.Getenv("FAKE_STOP_GATE")
	if gate == "" {
		return
	}
	os.WriteFile(gate+".term", nil, 0o644)
	for {
		if _, err := os.Stat(gate); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// serveUntilTERM serves h on httpPort until SIGTERM; then first (when set)
// closes first, then holds the stop (holdStop).
func serveUntilTERM(httpPort int, h http.Handler, first io.Closer) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	srv := &http.Server{Addr: net.JoinHostPort(bindHost(), strconv.Itoa(httpPort)), Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case <-sig:
		if first != nil {
			first.Close()
		}
		holdStop()
		srv.Shutdown(context.Background())
		return nil
	case err := <-errc:
		return err
	}
}

// proxy forwards every statement to the master named in dir/master (read
// for each statement: the master may have changed), in the database the
// client chose; it answers @@version_comment itself, with its own version.
type proxy struct {
	server.EmptyHandler
	dir, version, db string
}

func (p *proxy) UseDB(db string) error { p.db = db; return nil }

func (p *proxy) HandleQuery(q string) (*mysql.Result, error) {
	if reVersionComment.MatchString(strings.TrimRight(strings.TrimSpace(q), ";")) {
		return resultset([]string{"@@version_comment"}, [][]any{{versionComment(p.version)}})
	}
	master, err := os.ReadFile(filepath.Join(p.dir, "master"))
	if err != nil || len(master) == 0 {
		return nil, mysql.NewError(mysql.ER_UNKNOWN_ERROR, "errCode = 2, detailMessage = Node catalog is not ready, please wait for a while.")
	}
	conn, err := client.Connect(string(master), "root", "", p.db)
	if err != nil {
		return nil, mysql.NewError(mysql.ER_UNKNOWN_ERROR, "master unreachable: "+err.Error())
	}
	defer conn.Close()
	return conn.Execute(q)
}

type rootOnly struct{}

func (rootOnly) CheckUsername(u string) (bool, error)         { return u == "root", nil }
func (rootOnly) GetCredential(u string) (string, bool, error) { return "", u == "root", nil }

// writeFileAtomic writes path through a temporary file in its directory
// and a rename, so a reader (another FE of FAKE_DIR) sees the old or the
// new content, never a part.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
