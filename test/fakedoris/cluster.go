// Package fakedoris plays Doris frontends faithfully enough to test the
// bootstrap without a real Doris: the real MySQL wire protocol (go-mysql's
// server package), root/admin authentication with error 1045 (28000) on a
// wrong password, SHOW FRONTENDS / SHOW BACKENDS with the column layouts of
// Doris 2.0, 2.1 and 3.x (apache/doris fe/fe-core/src/main/java/org/apache/doris/common/proc/FrontendsProcNode.java and BackendsProcDir.java), the ALTER SYSTEM
// statements the entrypoints send, and account statements. Several FEs
// share one Cluster; tests inject faults on it (no master yet, wrong
// password).
package fakedoris

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Layout selects the SHOW FRONTENDS / SHOW BACKENDS columns of a version.
type Layout int

const (
	Layout20 Layout = iota // Doris 2.0: IsMaster is the 8th column
	Layout21               // Doris 2.1: ArrowFlightSqlPort added, IsMaster 9th
	Layout3                // Doris 3.x: 2.1 frontends, backends with CpuCores, Memory, RunningTasks
)

// Frontend is one row of SHOW FRONTENDS.
type Frontend struct {
	Host                                                 string
	EditLogPort, HTTPPort, QueryPort, RPCPort, ArrowPort int
	Role                                                 string // FOLLOWER or OBSERVER
	IsMaster, Alive, Join                                bool
	Version                                              string    // "": DefaultVersion (versions.go)
	LastHeartbeat                                        time.Time // zero: a fixed stamp
}

// Backend is one row of SHOW BACKENDS.
type Backend struct {
	ID                                                   int
	Host                                                 string
	HeartbeatPort, BePort, HTTPPort, BrpcPort, ArrowPort int
	Alive, Decommissioned, QueryDisabled, LoadDisabled   bool
	NodeRole                                             string    // mix or computation
	TabletNum                                            int       // read only: the replicas on it (Backends fills it)
	Version                                              string    // "": DefaultVersion (versions.go)
	LastHeartbeat                                        time.Time // zero: a fixed stamp
	HeartbeatFailures                                    int       // in a row (HeartbeatFailureCounter)
	Location                                             string    // location tag; "": default (placement.go)
}

// Cluster is the state the fake FEs share.
type Cluster struct {
	mu        sync.Mutex
	layout    Layout
	frontends []Frontend
	backends  []Backend
	brokers   []FsBroker        // broker.go
	users     map[string]string // user → password
	nextBE    int
	// Faults.
	noMaster bool              // no FE answers as master yet
	delay    time.Duration     // before every answer
	drop     int               // connections to close at once, from now on
	health   HealthFault       // what /api/health answers
	notReady bool              // every query: Doris' "Node catalog is not ready" (an FE electing)
	feCols   []string          // SHOW FRONTENDS: only these columns (an answer we cannot read)
	refuse   map[string]string // statements containing the key: refused with the message
	// SHOW BACKENDS answers without some rows (faults.go): the next n
	// answers by host, and every non-master's answer by host.
	hidden         map[string]int
	followerHidden map[string]bool
	// Tablets (tablets.go) and the master's in-memory configs (feconfig.go).
	dbs      []*database
	nextID   int64            // catalog ids, from 10000 as Doris' (Env.NEXT_ID_INIT_VALUE)
	rr       int              // round-robin start of the next tablet's replicas
	lost     int              // tablets that lost every replica
	rate     float64          // replicas per second the tablet scheduler moves
	carry    float64          // fraction of a replica owed to the next look
	now      func() time.Time // the scheduler's clock
	lastTick time.Time
	// SystemHandler's rounds (tablets.go): every alterEvery, the next at
	// alterNext.
	alterEvery time.Duration
	alterNext  time.Time
	config     map[string]bool
	// placement.go, internal.go: hooks before statements, and whether
	// the FE's InternalSchemaInitializer runs.
	hooks          []statementHook
	internalSchema bool
	// A fake FE process (node.go): the ports of a frontend ALTER SYSTEM
	// ADD creates (Doris assumes every FE has the master's: HeartbeatMgr
	// dials a frontend at Config.rpc_port), and what to call after each
	// statement (persist the state).
	fePorts  *Frontend
	onChange func()
	// heartbeats: a master heartbeats the nodes (node.go), so a new
	// backend is alive only once it answered.
	heartbeats bool
	// Log of the statements received, for tests.
	statements []string
	stmtTimes  []time.Time // when each arrived
}

// NewCluster returns a cluster with the given layout and a root user without
// password.
func NewCluster(layout Layout) *Cluster {
	return &Cluster{layout: layout, users: map[string]string{"root": ""}, nextBE: 10001, nextID: 10000,
		rate: DefaultDecommissionRate, now: time.Now, config: defaultConfig(), alterEvery: DefaultAlterInterval}
}

// AddFrontend adds a frontend row (the first master decides the master).
func (c *Cluster) AddFrontend(fe Frontend) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frontends = append(c.frontends, fe)
}

// SetNoMaster makes every FE report no master (an election in progress).
func (c *Cluster) SetNoMaster(v bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.noMaster = v
}

// SetDelay makes every answer wait d (a slow FE).
func (c *Cluster) SetDelay(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.delay = d
}

// DropConnections makes the next n connections close at once, before the
// greeting (an FE restarting, a flaky network).
func (c *Cluster) DropConnections(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop = n
}

// SetMaster makes host the master (a master change). A new master has
// the configs' defaults: ADMIN SET FRONTEND CONFIG only set the old one's
// memory.
func (c *Cluster) SetMaster(host string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked()
	for i := range c.frontends {
		if c.frontends[i].IsMaster && c.frontends[i].Host != host {
			c.config = defaultConfig()
		}
		c.frontends[i].IsMaster = c.frontends[i].Host == host
	}
}

// SetAlive sets the Alive column of the frontends, backends and brokers on
// host (a node the master's heartbeat no longer reaches).
func (c *Cluster) SetAlive(host string, alive bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.frontends {
		if c.frontends[i].Host == host {
			c.frontends[i].Alive = alive
		}
	}
	for i := range c.backends {
		if c.backends[i].Host == host {
			c.backends[i].Alive = alive
		}
	}
	for i := range c.brokers {
		if c.brokers[i].Host == host {
			c.brokers[i].Alive = alive
		}
	}
}

// changed runs the onChange hook (node.go: persist the state).
func (c *Cluster) changed() {
	c.mu.Lock()
	f := c.onChange
	c.mu.Unlock()
	if f != nil {
		f()
	}
}

func (c *Cluster) takeDrop() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.drop > 0 {
		c.drop--
		return true
	}
	return false
}

func (c *Cluster) answerDelay() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.delay
}

// SetPassword sets a user's password (root included).
func (c *Cluster) SetPassword(user, password string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.users[user] = password
}

func (c *Cluster) password(user string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.users[user]
	return p, ok
}

// Statements returns the statements received so far.
func (c *Cluster) Statements() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.statements...)
}

// Frontends and Backends return copies of the rows.
func (c *Cluster) Frontends() []Frontend {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Frontend(nil), c.frontends...)
}

func (c *Cluster) Backends() []Backend {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked()
	load := c.loadLocked()
	bes := append([]Backend(nil), c.backends...)
	for i := range bes {
		bes[i].TabletNum = load[bes[i].ID]
	}
	return bes
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

func tf(b bool) string { return strconv.FormatBool(b) }

const stamp = "2024-08-21 10:04:29"

// stampOr renders a time as Doris' TimeUtils.longToTimeString does; zero
// is the fixed stamp.
func stampOr(t time.Time) string {
	if t.IsZero() {
		return stamp
	}
	return t.Format("2006-01-02 15:04:05")
}

// frontendRows renders SHOW FRONTENDS; self is the host of the FE asked.
func (c *Cluster) frontendRows(self string) ([]string, [][]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var names []string
	switch c.layout {
	case Layout20:
		names = []string{"Name", "Host", "EditLogPort", "HttpPort", "QueryPort", "RpcPort", "Role", "IsMaster", "ClusterId",
			"Join", "Alive", "ReplayedJournalId", "LastStartTime", "LastHeartbeat", "IsHelper", "ErrMsg", "Version", "CurrentConnected"}
	default:
		names = []string{"Name", "Host", "EditLogPort", "HttpPort", "QueryPort", "RpcPort", "ArrowFlightSqlPort", "Role", "IsMaster",
			"ClusterId", "Join", "Alive", "ReplayedJournalId", "LastStartTime", "LastHeartbeat", "IsHelper", "ErrMsg", "Version", "CurrentConnected"}
	}
	var rows [][]any
	for i, fe := range c.frontends {
		master := fe.IsMaster && !c.noMaster
		row := []any{fmt.Sprintf("fe_%08x_%d", i+1, fe.EditLogPort), fe.Host, fe.EditLogPort, fe.HTTPPort, fe.QueryPort, fe.RPCPort}
		if c.layout != Layout20 {
			row = append(row, fe.ArrowPort)
		}
		row = append(row, fe.Role, tf(master), ClusterID, tf(fe.Join), tf(fe.Alive), "15443", stamp, stampOr(fe.LastHeartbeat),
			tf(fe.Role == "FOLLOWER"), "", frontendVersion(fe.Version), yesNo(fe.Host == self))
		rows = append(rows, row)
	}
	return c.onlyColumns(names, rows)
}

// backendRows renders SHOW BACKENDS, sorted by host as Doris does.
func (c *Cluster) backendRows() ([]string, [][]any) { return c.backendRowsFor("") }

// backendRowsFor renders SHOW BACKENDS as the FE on self answers it, with
// the partial-answer faults (faults.go).
func (c *Cluster) backendRowsFor(self string) ([]string, [][]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.answeredLocked()
	names := []string{"BackendId", "Host", "HeartbeatPort", "BePort", "HttpPort", "BrpcPort"}
	if c.layout != Layout20 {
		names = append(names, "ArrowFlightSqlPort")
	}
	names = append(names, "LastStartTime", "LastHeartbeat", "Alive", "SystemDecommissioned", "TabletNum", "DataUsedCapacity",
		"TrashUsedCapacity", "AvailCapacity", "TotalCapacity", "UsedPct", "MaxDiskUsedPct", "RemoteUsedCapacity", "Tag", "ErrMsg",
		"Version", "Status", "HeartbeatFailureCounter")
	if c.layout == Layout3 {
		names = append(names, "CpuCores", "Memory", "RunningTasks")
	}
	names = append(names, "NodeRole")
	bes := append([]Backend(nil), c.backends...)
	sort.Slice(bes, func(i, j int) bool { return bes[i].Host < bes[j].Host })
	load := c.loadLocked()
	var rows [][]any
	for _, be := range bes {
		if c.hiddenLocked(self, be.Host) {
			continue
		}
		row := []any{be.ID, be.Host, be.HeartbeatPort, be.BePort, be.HTTPPort, be.BrpcPort}
		if c.layout != Layout20 {
			row = append(row, be.ArrowPort)
		}
		role := be.NodeRole
		if !be.Alive {
			role = ""
		}
		status := fmt.Sprintf(`{"lastSuccessReportTabletsTime":"%s","lastStreamLoadTime":-1,"isQueryDisabled":%t,"isLoadDisabled":%t}`,
			stamp, be.QueryDisabled, be.LoadDisabled)
		errMsg := ""
		if !be.Alive {
			errMsg = "java.net.ConnectException: Connection refused"
		}
		row = append(row, stamp, stampOr(be.LastHeartbeat), tf(be.Alive), tf(be.Decommissioned), load[be.ID], "0.000 ", "0.000 ", "12.719 GB", "19.575 GB",
			"35.02 %", "35.02 %", "0.000 ", tagString(location(be)), errMsg, backendVersion(be.Version), status, be.HeartbeatFailures)
		if c.layout == Layout3 {
			row = append(row, 8, "31.00 GB", 0)
		}
		row = append(row, role)
		rows = append(rows, row)
	}
	return names, rows
}

// alterSystem applies ALTER SYSTEM ADD/DROP FOLLOWER|OBSERVER|BACKEND,
// DROPP/DECOMMISSION/MODIFY BACKEND and CANCEL DECOMMISSION BACKEND, with
// Doris' refusals (apache/doris fe/fe-core/src/main/java/org/apache/doris/alter/SystemHandler.java,
// catalog/Env.java dropFrontend, system/SystemInfoService.java dropBackends).
// DROPP, DECOMMISSION and CANCEL take a list ("h:p", "h:p") in rest.
func (c *Cluster) alterSystem(verb, kind, hostPort, rest string) error {
	host, port, err := splitHostPort(hostPort)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch kind {
	case "FOLLOWER", "OBSERVER":
		idx := -1
		for i, fe := range c.frontends {
			if fe.Host == host && fe.EditLogPort == port {
				idx = i
			}
		}
		switch verb {
		case "ADD":
			if idx >= 0 {
				return fmt.Errorf("frontend already exists: %s", hostPort)
			}
			fe := Frontend{Host: host, EditLogPort: port, HTTPPort: 8030, QueryPort: 9030, RPCPort: 9020, ArrowPort: -1, Role: kind, Version: Unreported}
			if c.fePorts != nil {
				fe.HTTPPort, fe.QueryPort, fe.RPCPort = c.fePorts.HTTPPort, c.fePorts.QueryPort, c.fePorts.RPCPort
			}
			c.frontends = append(c.frontends, fe) // Alive and Join false until its first heartbeat
		case "DROP":
			return c.dropFrontendLocked(kind, idx, hostPort)
		}
	case "BACKEND":
		if verb == "DROP" {
			// SystemHandler.process: a DropBackendClause without force.
			return errors.New("It is highly NOT RECOMMENDED to use DROP BACKEND stmt.It is not safe to directly drop a backend. " +
				"All data on this backend will be discarded permanently. If you insist, use DROPP instead of DROP")
		}
		hps := []string{hostPort}
		if verb == "DROPP" || verb == "DECOMMISSION" || verb == "CANCEL" {
			for _, m := range reMoreHosts.FindAllStringSubmatch(rest, -1) {
				hps = append(hps, m[1])
			}
		}
		var idxs []int
		for _, hp := range hps {
			h, p, err := splitHostPort(hp)
			if err != nil {
				return err
			}
			idx := -1
			for i, be := range c.backends {
				if be.Host == h && be.HeartbeatPort == p {
					idx = i
				}
			}
			switch {
			case idx >= 0 || verb == "ADD":
			case verb == "DROPP":
				return fmt.Errorf("backend does not exists[%s]", hp)
			case verb == "MODIFY":
				return fmt.Errorf("backend does not exist[%s]", hp)
			default:
				return fmt.Errorf("Backend does not exist[%s]", hp)
			}
			idxs = append(idxs, idx)
		}
		idx := idxs[0]
		switch verb {
		case "ADD":
			if idx >= 0 {
				return fmt.Errorf("Same backend already exists[%s]", hostPort)
			}
			// A new Backend is not alive, and mix, until its first
			// heartbeat (apache/doris fe/fe-core/src/main/java/org/apache/doris/system/Backend.java:
			// isAlive false, the default node-role tag): nothing is placed on
			// it before, not even on a CN that is mix until it answers. A
			// cluster without heartbeats (a test's) has it alive at once.
			c.backends = append(c.backends, Backend{ID: c.nextBE, Host: host, HeartbeatPort: port, BePort: 9060, HTTPPort: 8040,
				BrpcPort: 8060, ArrowPort: -1, Alive: !c.heartbeats, NodeRole: "mix", Version: Unreported})
			c.nextBE++
		case "DROPP":
			ids := map[int]bool{}
			for _, i := range idxs {
				ids[c.backends[i].ID] = true
			}
			for i := len(c.backends) - 1; i >= 0; i-- {
				if ids[c.backends[i].ID] {
					c.dropBackendLocked(i)
				}
			}
		case "DECOMMISSION", "CANCEL":
			if verb == "DECOMMISSION" {
				if err := c.checkDecommissionLocked(idxs); err != nil { // placement.go
					return err
				}
			}
			for _, i := range idxs {
				c.backends[i].Decommissioned = verb == "DECOMMISSION"
			}
		case "MODIFY":
			low := strings.ToLower(strings.ReplaceAll(rest, " ", ""))
			if strings.Contains(low, `"disable_query"="false"`) {
				c.backends[idx].QueryDisabled = false
			}
			if strings.Contains(low, `"disable_load"="false"`) {
				c.backends[idx].LoadDisabled = false
			}
		}
	}
	return nil
}

// reMoreHosts reads the further "h:p" of a list.
var reMoreHosts = regexp.MustCompile(`\s*,\s*"([^"]*)"`)

func splitHostPort(hostPort string) (string, int, error) {
	host, portS, ok := strings.Cut(hostPort, ":")
	port, err := strconv.Atoi(portS)
	if !ok || err != nil || host == "" {
		return "", 0, fmt.Errorf("invalid host port: %s", hostPort)
	}
	return host, port, nil
}

// dropFrontendLocked is Env.dropFrontendFromBDBJE: never the master, the
// role must match, and an alive follower only while the followers left
// keep a majority alive.
func (c *Cluster) dropFrontendLocked(role string, idx int, hostPort string) error {
	if idx >= 0 && c.frontends[idx].IsMaster {
		return errors.New("can not drop current master node.")
	}
	if idx < 0 {
		return fmt.Errorf("frontend does not exist[%s]", hostPort)
	}
	fe := c.frontends[idx]
	if fe.Role != role {
		return fmt.Errorf("%s does not exist[%s]", role, hostPort)
	}
	if role == "FOLLOWER" && fe.Alive {
		followers, alive := 0, 0
		for _, f := range c.frontends {
			if f.Role == "FOLLOWER" {
				followers++
				if f.Alive {
					alive++
				}
			}
		}
		if next := (followers-1)/2 + 1; next+1 > alive {
			return fmt.Errorf("Unable to drop this alive follower, because the quorum requirements are not met after this "+
				"command execution. Current num alive followers %d, num followers %d, majority after execution %d",
				alive, followers, next)
		}
	}
	c.frontends = append(c.frontends[:idx], c.frontends[idx+1:]...)
	return nil
}

// record appends a statement to the log.
func (c *Cluster) record(q string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statements = append(c.statements, q)
	c.stmtTimes = append(c.stmtTimes, time.Now())
}

// StatementAt is when the first statement containing s arrived, and
// whether one did.
func (c *Cluster) StatementAt(s string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, q := range c.statements {
		if strings.Contains(q, s) {
			return c.stmtTimes[i], true
		}
	}
	return time.Time{}, false
}
