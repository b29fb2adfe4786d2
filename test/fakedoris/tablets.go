package fakedoris

// Tablets, replicas and what moves them: the catalog a scale-in reads
// (SHOW PROC '/dbs', '/dbs/<DbId>', '/dbs/<DbId>/<TableId>/partitions'),
// SHOW BACKENDS TabletNum, and the FE's tablet scheduler as a decommission
// sees it (apache/doris fe/fe-core/src/main/java/org/apache/doris/alter/SystemHandler.java,
// fe/fe-core/src/main/java/org/apache/doris/clone/TabletScheduler.java).
// Nothing runs in the background: the scheduler's progress is computed
// from the time elapsed on the cluster's clock each time a statement or an
// accessor looks (advanceLocked), so tests drive it with SetClock.

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Partition is one partition of an OLAP table: Buckets tablets of
// ReplicationNum replicas each. An empty Name is the single partition of
// an unpartitioned table, which Doris names after the table. Allocation,
// when set, is its replication_allocation by location tag ({"group_a": 1,
// "default": 2}), and ReplicationNum may be 0 (it is the sum, as Doris
// shows it); nil: ReplicationNum on tag default.
type Partition struct {
	Name                    string
	ReplicationNum, Buckets int
	Allocation              map[string]int
}

type database struct {
	id     int64
	name   string
	tables []*olapTable
}

type olapTable struct {
	id          int64
	name        string
	typ         string // OLAP, or MATERIALIZED_VIEW (an MTMV: placement.go)
	partitioned bool   // RANGE partitioned (else one partition named after the table)
	partitions  []*partition
}

type partition struct {
	id      int64
	name    string
	want    int            // ReplicationNum: the allocation's sum
	alloc   map[string]int // replicas per location tag, shared with its tablets
	tablets []*tablet
}

type tablet struct {
	id       int64
	want     int            // ReplicationNum of its partition
	alloc    map[string]int // its partition's
	replicas []int          // BackendIds, distinct
}

// The system databases SHOW PROC '/dbs' lists before the user's ones
// (apache/doris fe/fe-core/src/main/java/org/apache/doris/catalog/InfoSchemaDb.java
// and MysqlDb.java: ids 0 and 1; user objects from 10000).
var systemDBs = []database{{id: 0, name: "information_schema"}, {id: 1, name: "mysql"}}

// DefaultDecommissionRate is the replicas per second the fake scheduler
// moves or repairs unless SetDecommissionRate says otherwise.
const DefaultDecommissionRate = 50

// AddTable creates db (if new) and an OLAP table in it with these
// partitions. Each bucket is a tablet whose replicas go to distinct alive,
// non-decommissioned mix backends of their location tag, round-robin by
// BackendId. It fails, creating nothing, when a partition asks a tag for
// more replicas than there are such backends, or the table exists.
func (c *Cluster) AddTable(db, table string, partitions ...Partition) error {
	return c.AddTableWith(db, table, TableOptions{Partitions: partitions})
}

// TableOptions is what AddTableWith makes.
type TableOptions struct {
	// Type is OLAP (""), or MATERIALIZED_VIEW: an async materialized view
	// (MTMV), whose tablets are an OLAP table's (placement.go).
	Type       string
	Partitions []Partition
}

// AddTableWith is AddTable with the table's type.
func (c *Cluster) AddTableWith(db, table string, o TableOptions) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked()
	return c.addTableLocked(db, table, o)
}

func (c *Cluster) addTableLocked(db, table string, o TableOptions) error {
	partitions := o.Partitions
	typ := o.Type
	switch typ {
	case "":
		typ = "OLAP"
	case "OLAP", "MATERIALIZED_VIEW":
	default:
		return fmt.Errorf("fakedoris: table %s.%s of type %q", db, table, typ)
	}
	if len(partitions) == 0 {
		return fmt.Errorf("fakedoris: table %s.%s without partitions", db, table)
	}
	allocs := make([]map[string]int, len(partitions))
	for i, p := range partitions {
		a, err := allocationOf(p)
		if err != nil || p.Buckets < 1 {
			return fmt.Errorf("fakedoris: partition %q of %s.%s: ReplicationNum %d, Allocation %v, Buckets %d", p.Name, db, table,
				p.ReplicationNum, p.Allocation, p.Buckets)
		}
		allocs[i] = a
		for _, tag := range sortedTags(a) {
			if a[tag] > len(c.eligibleLocked(nil, tag)) {
				return notEnoughBackends{replicas: a[tag], tag: tag} // ddl.go
			}
		}
	}
	d := c.dbLocked(db)
	if d == nil {
		d = &database{id: c.newIDLocked(), name: db}
		c.dbs = append(c.dbs, d)
	}
	for _, t := range d.tables {
		if t.name == table {
			return fmt.Errorf("Table '%s' already exists", table)
		}
	}
	t := &olapTable{id: c.newIDLocked(), name: table, typ: typ,
		partitioned: len(partitions) > 1 || (partitions[0].Name != "" && partitions[0].Name != table)}
	c.newIDLocked() // the base index, as Doris numbers it
	for i, p := range partitions {
		part := &partition{id: c.newIDLocked(), name: p.Name, want: total(allocs[i]), alloc: allocs[i]}
		if part.name == "" {
			part.name = table
		}
		for b := 0; b < p.Buckets; b++ {
			tb := &tablet{id: c.newIDLocked(), want: part.want, alloc: part.alloc}
			for _, tag := range sortedTags(part.alloc) {
				elig := c.eligibleLocked(nil, tag)
				for r := 0; r < part.alloc[tag]; r++ {
					tb.replicas = append(tb.replicas, elig[(c.rr+r)%len(elig)].ID)
				}
			}
			c.rr++
			part.tablets = append(part.tablets, tb)
		}
		t.partitions = append(t.partitions, part)
	}
	d.tables = append(d.tables, t)
	return nil
}

// AddBackend adds a backend row directly (as ALTER SYSTEM ADD BACKEND does,
// with the given state) and returns its BackendId. Zero ports get Doris'
// defaults, an empty NodeRole is mix.
func (c *Cluster) AddBackend(be Backend) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked()
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&be.HeartbeatPort, 9050)
	def(&be.BePort, 9060)
	def(&be.HTTPPort, 8040)
	def(&be.BrpcPort, 8060)
	def(&be.ArrowPort, -1)
	if be.NodeRole == "" {
		be.NodeRole = "mix"
	}
	be.ID, be.TabletNum = c.nextBE, 0
	c.nextBE++
	c.backends = append(c.backends, be)
	return be.ID
}

// TabletsOn is the number of replicas on the backends of host.
func (c *Cluster) TabletsOn(host string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked()
	load := c.loadLocked()
	n := 0
	for _, be := range c.backends {
		if be.Host == host {
			n += load[be.ID]
		}
	}
	return n
}

// LostTablets is the number of tablets that lost every replica (through
// ALTER SYSTEM DROPP BACKEND): data gone for good.
func (c *Cluster) LostTablets() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked()
	return c.lost
}

// SetDecommissionRate sets how many replicas per second the fake tablet
// scheduler moves off decommissioned backends or repairs (0: none).
func (c *Cluster) SetDecommissionRate(replicasPerSecond float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked() // the time so far at the old rate
	c.rate = replicasPerSecond
}

// DefaultAlterInterval is how often the fake's SystemHandler looks for
// decommissioned backends to drop, as Doris' (10 s).
const DefaultAlterInterval = 10 * time.Second

// SetAlterInterval sets how often decommissioned backends without tablets
// are dropped (with drop_backend_after_decommission); the next round is d
// from now.
func (c *Cluster) SetAlterInterval(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked()
	c.alterEvery = d
	c.alterNext = c.now().Add(d)
}

// SetClock makes the scheduler read time from now (a test's fake clock);
// time counts from this call.
func (c *Cluster) SetClock(now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked()
	c.now = now
	c.lastTick = now()
	c.alterNext = c.lastTick.Add(c.alterEvery)
}

func (c *Cluster) newIDLocked() int64 {
	c.nextID++
	return c.nextID - 1
}

func (c *Cluster) dbLocked(name string) *database {
	for _, d := range c.dbs {
		if d.name == name {
			return d
		}
	}
	return nil
}

// tabletsLocked calls f for every tablet, in catalog order.
func (c *Cluster) tabletsLocked(f func(*tablet)) {
	for _, d := range c.dbs {
		for _, t := range d.tables {
			for _, p := range t.partitions {
				for _, tb := range p.tablets {
					f(tb)
				}
			}
		}
	}
}

// loadLocked counts the replicas per BackendId.
func (c *Cluster) loadLocked() map[int]int {
	load := map[int]int{}
	c.tabletsLocked(func(tb *tablet) {
		for _, id := range tb.replicas {
			load[id]++
		}
	})
	return load
}

// eligibleLocked lists, by BackendId, the backends of location tag that
// can take a new replica of tb (nil: of a new tablet): alive, not
// decommissioned, storing data (not a compute node), and not holding one
// already. Replicas go only to backends of their tag (apache/doris
// fe/fe-core/src/main/java/org/apache/doris/clone/TabletScheduler.java
// chooseProperTag, system/SystemInfoService.java selectBackendIdsByPolicy).
func (c *Cluster) eligibleLocked(tb *tablet, tag string) []Backend {
	var out []Backend
	for _, be := range c.backends {
		if !be.Alive || be.Decommissioned || be.NodeRole == "computation" || (tb != nil && tb.has(be.ID)) || location(be) != tag {
			continue
		}
		out = append(out, be)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (tb *tablet) has(id int) bool {
	for _, r := range tb.replicas {
		if r == id {
			return true
		}
	}
	return false
}

func (c *Cluster) backendLocked(id int) *Backend {
	for i := range c.backends {
		if c.backends[i].ID == id {
			return &c.backends[i]
		}
	}
	return nil
}

// cloneSource says whether a replica of tb can be copied: one of its
// replicas is on an alive backend.
func (c *Cluster) cloneSource(tb *tablet) bool {
	for _, id := range tb.replicas {
		if be := c.backendLocked(id); be != nil && be.Alive {
			return true
		}
	}
	return false
}

// destinationLocked picks where a new replica of tb on tag goes: the
// eligible backend with the fewest replicas (then the lowest id); -1 if
// none.
func (c *Cluster) destinationLocked(tb *tablet, tag string, load map[int]int) int {
	best := -1
	for _, be := range c.eligibleLocked(tb, tag) {
		if best < 0 || load[be.ID] < load[best] {
			best = be.ID
		}
	}
	return best
}

// advanceLocked plays the FE's daemons for the time elapsed since the last
// look: the tablet scheduler (unless disable_tablet_scheduler) repairs
// tablets with too few replicas, then moves replicas off decommissioned
// backends, rate per second; a replica with no backend to go to stays,
// so a decommission the FE accepted may never finish. Then, with
// drop_backend_after_decommission, a decommissioned backend without
// replicas is dropped (SystemHandler.runAlterJobV2).
func (c *Cluster) advanceLocked() {
	c.internalSchemaLocked() // internal.go
	now := c.now()
	elapsed := now.Sub(c.lastTick).Seconds()
	if c.lastTick.IsZero() || elapsed < 0 {
		elapsed = 0
	}
	c.lastTick = now
	if c.config["disable_tablet_scheduler"] || c.rate <= 0 {
		c.carry = 0
	} else {
		budget := c.carry + elapsed*c.rate
		n := int(budget)
		if done := c.scheduleLocked(n); done < n {
			c.carry = 0 // nothing more to do: no credit for later
		} else {
			c.carry = budget - float64(n)
		}
	}
	// SystemHandler is an AlterHandler, a MasterDaemon that runs
	// runAlterJobV2 once per FeConstants.default_scheduler_interval_millisecond
	// (10 s; apache/doris fe/fe-core/src/main/java/org/apache/doris/alter/AlterHandler.java,
	// common/FeConstants.java): a decommissioned backend shows TabletNum 0
	// until the next round drops it.
	if c.alterNext.IsZero() {
		c.alterNext = now.Add(c.alterEvery)
	}
	if now.Before(c.alterNext) {
		return
	}
	c.alterNext = now.Add(c.alterEvery)
	if !c.config["drop_backend_after_decommission"] {
		return
	}
	load := c.loadLocked()
	kept := c.backends[:0]
	for _, be := range c.backends {
		if !be.Decommissioned || load[be.ID] > 0 {
			kept = append(kept, be)
		}
	}
	c.backends = kept
}

// scheduleLocked does up to n clone tasks and returns how many it did:
// repairs per location tag, moves off decommissioned backends to a
// backend of the replica's tag, then the balance (placement.go).
func (c *Cluster) scheduleLocked(n int) int {
	done := 0
	load := c.loadLocked()
	c.tabletsLocked(func(tb *tablet) {
		if len(tb.replicas) == 0 || !c.cloneSource(tb) {
			return
		}
		for _, tag := range sortedTags(tb.alloc) {
			for done < n && c.onTagLocked(tb, tag) < tb.alloc[tag] {
				dst := c.destinationLocked(tb, tag, load)
				if dst < 0 {
					break
				}
				tb.replicas = append(tb.replicas, dst)
				load[dst]++
				done++
			}
		}
	})
	c.tabletsLocked(func(tb *tablet) {
		for i, id := range tb.replicas {
			if done >= n {
				return
			}
			be := c.backendLocked(id)
			if be == nil || !be.Decommissioned || !c.cloneSource(tb) {
				continue
			}
			dst := c.destinationLocked(tb, location(*be), load)
			if dst < 0 {
				continue
			}
			tb.replicas[i] = dst
			load[id]--
			load[dst]++
			done++
		}
	})
	if done < n && !c.config["disable_balance"] {
		done += c.balanceLocked(n-done, load)
	}
	return done
}

// dropBackendLocked removes the backend at idx and its replicas (DROPP):
// a tablet left without any replica is lost.
func (c *Cluster) dropBackendLocked(idx int) {
	id := c.backends[idx].ID
	c.backends = append(c.backends[:idx], c.backends[idx+1:]...)
	c.tabletsLocked(func(tb *tablet) {
		if !tb.has(id) {
			return
		}
		kept := tb.replicas[:0]
		for _, r := range tb.replicas {
			if r != id {
				kept = append(kept, r)
			}
		}
		tb.replicas = kept
		if len(kept) == 0 {
			c.lost++
		}
	})
}

// tick advances the scheduler before a statement is answered.
func (c *Cluster) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked()
}

// The SHOW PROC titles of Doris 2.1 (apache/doris fe/fe-core/src/main/java/org/apache/doris/common/proc/DbsProcDir.java,
// TablesProcDir.java, PartitionsProcDir.java), for every layout: clients read them by name.
var (
	dbsTitles = []string{"DbId", "DbName", "TableNum", "Size", "Quota", "LastConsistencyCheckTime", "ReplicaCount",
		"ReplicaQuota", "RunningTransactionNum", "TransactionQuota", "LastUpdateTime"}
	tablesTitles = []string{"TableId", "TableName", "IndexNum", "PartitionColumnName", "PartitionNum", "State", "Type",
		"LastConsistencyCheckTime", "ReplicaCount"}
	partitionsTitles = []string{"PartitionId", "PartitionName", "VisibleVersion", "VisibleVersionTime", "State",
		"PartitionKey", "Range", "DistributionKey", "Buckets", "ReplicationNum", "StorageMedium", "CooldownTime",
		"RemoteStoragePolicy", "LastConsistencyCheckTime", "DataSize", "IsInMemory", "ReplicaAllocation", "IsMutable",
		"SyncWithBaseTables", "UnsyncTables"}
)

// nullString is how Doris prints a missing value (FeConstants.null_string).
const nullString = `\N`

func (t *olapTable) replicaCount() int {
	n := 0
	for _, p := range t.partitions {
		for _, tb := range p.tablets {
			n += len(tb.replicas)
		}
	}
	return n
}

// showProc answers SHOW PROC for '/dbs' and below, '/backends' and
// '/frontends'; other paths are Doris' "doesn't exist".
func (h *handler) showProc(path string) ([]string, [][]any, error) {
	c := h.fe.cluster
	var parts []string
	for _, p := range strings.Split(path, "/") {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if !strings.HasPrefix(path, "/") {
		return nil, nil, fmt.Errorf("Path(%s) does not start with '/'", path)
	}
	if len(parts) == 1 {
		switch parts[0] {
		case "backends":
			names, rows := c.backendRows()
			return names, rows, nil
		case "frontends":
			names, rows := c.frontendRows(h.fe.host)
			return names, rows, nil
		}
	}
	if len(parts) == 0 || parts[0] != "dbs" || len(parts) == 3 || len(parts) > 4 || (len(parts) == 4 && parts[3] != "partitions") {
		return nil, nil, fmt.Errorf("Proc path '%s' doesn't exist", path)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(parts) == 1 {
		return c.dbsRowsLocked()
	}
	dbID, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return nil, nil, fmt.Errorf("Invalid db id format: %s", parts[1])
	}
	var d *database
	for _, x := range c.dbs {
		if x.id == dbID {
			d = x
		}
	}
	if d == nil {
		for i := range systemDBs {
			if systemDBs[i].id == dbID {
				d = &systemDBs[i]
			}
		}
	}
	if d == nil {
		return nil, nil, fmt.Errorf("Database %d does not exist", dbID)
	}
	if len(parts) == 2 {
		var rows [][]any
		for _, t := range d.tables {
			key, num := nullString, 1
			if t.typ != "OLAP" {
				// TablesProcDir details only TableType.OLAP: an MTMV shows
				// \N, one partition and ReplicaCount 0, tablets or not.
				rows = append(rows, []any{t.id, t.name, nullString, key, num, nullString, t.typ, nullString, 0})
				continue
			}
			if t.partitioned {
				key, num = "dt", len(t.partitions)
			}
			// IndexNum as text: an MTMV's \N shares the column (Doris sends
			// every ProcResult cell as a string).
			rows = append(rows, []any{t.id, t.name, "1", key, num, "NORMAL", "OLAP", nullString, t.replicaCount()})
		}
		return tablesTitles, rows, nil
	}
	tableID, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return nil, nil, fmt.Errorf("Invalid table id format: %s", parts[2])
	}
	var t *olapTable
	for _, x := range d.tables {
		if x.id == tableID {
			t = x
		}
	}
	if t == nil {
		return nil, nil, fmt.Errorf("Unknown table '%d'", tableID)
	}
	var rows [][]any
	for i, p := range t.partitions {
		key, rng := "", ""
		if t.partitioned {
			key = "dt"
			rng = fmt.Sprintf("[types: [DATEV2]; keys: [%04d-01-01]; ..types: [DATEV2]; keys: [%04d-01-01]; )", 2000+i, 2001+i)
		}
		rows = append(rows, []any{p.id, p.name, 1, stamp, "NORMAL", key, rng, "k1", len(p.tablets), p.want, "HDD",
			"9999-12-31 23:59:59", "", nullString, "0.000 ", "false", allocationString(p.alloc), "true",
			"true", nullString})
	}
	return partitionsTitles, rows, nil
}

func (c *Cluster) dbsRowsLocked() ([]string, [][]any, error) {
	row := func(d *database) []any {
		n := 0
		for _, t := range d.tables {
			n += t.replicaCount()
		}
		return []any{d.id, d.name, len(d.tables), "0.000 ", "1024.000 TB", nullString, n, 1073741824, 0, 1000, stamp}
	}
	var rows [][]any
	for i := range systemDBs {
		rows = append(rows, row(&systemDBs[i]))
	}
	for _, d := range c.dbs {
		rows = append(rows, row(d))
	}
	return dbsTitles, rows, nil
}
