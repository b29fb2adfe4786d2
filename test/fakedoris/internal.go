package fakedoris

// The FE's own tables in __internal_schema (apache/doris
// fe/fe-core/src/main/java/org/apache/doris/catalog/InternalSchemaInitializer.java):
// the statistics tables (StatisticConstants.STATISTIC_TABLE_BUCKET_COUNT:
// 7 buckets) and the audit log (RANGE partitioned by day, dynamic
// partitions up to 3 days ahead, 2 buckets), created with
// max(1, min_replication_num_per_tablet) = 1 replica, then raised by
// modifyTblReplicaCount to tag.location.default: 3
// (StatisticConstants.STATISTIC_INTERNAL_TABLE_REPLICA_NUM) once there are
// 3 backends, and never lowered. Which backends count: 2.0/2.1
// aliveBECount() (every alive backend); 3.x
// getStorageBackendNumFromDiffHosts(true) (alive, storing data, on
// distinct hosts). The initializer retries until it can: here, at every
// look (advanceLocked).

import "fmt"

// InternalSchemaDB is the FE's own database.
const InternalSchemaDB = "__internal_schema"

// internalTables are the tables the initializer makes, per layout: 2.x
// column_statistics and histogram_statistics, 3.x column_statistics and
// partition_statistics; both audit_log.
func (c *Cluster) internalTables() []string {
	if c.layout == Layout3 {
		return []string{"column_statistics", "partition_statistics", "audit_log"}
	}
	return []string{"column_statistics", "histogram_statistics", "audit_log"}
}

// InitInternalSchema starts the FE's InternalSchemaInitializer: from now
// on __internal_schema's tables are made as soon as a storage backend can
// take them, and raised to 3 replicas at 3 backends. (Opt-in: the
// clusters of tests older than it count every tablet they made.)
func (c *Cluster) InitInternalSchema() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.internalSchema = true
	c.advanceLocked()
}

// internalSchemaLocked is one round of the initializer.
func (c *Cluster) internalSchemaLocked() {
	if !c.internalSchema {
		return
	}
	for _, name := range c.internalTables() {
		if c.internalTableLocked(name) != nil {
			continue
		}
		parts := []Partition{{Name: name, ReplicationNum: 1, Buckets: 7}}
		if name == "audit_log" {
			parts = nil
			for i := 0; i <= 3; i++ { // today and 3 days ahead
				parts = append(parts, Partition{Name: fmt.Sprintf("p2026010%d", i+1), ReplicationNum: 1, Buckets: 2})
			}
		}
		if err := c.addTableLocked(InternalSchemaDB, name, TableOptions{Partitions: parts}); err != nil {
			return // no backend yet: next round
		}
	}
	if c.internalReplicaBackendsLocked() < 3 {
		return
	}
	for _, name := range c.internalTables() {
		for _, p := range c.internalTableLocked(name).partitions {
			if p.want >= 3 {
				continue
			}
			p.want, p.alloc = 3, map[string]int{DefaultLocation: 3}
			for _, tb := range p.tablets {
				tb.want, tb.alloc = p.want, p.alloc // the scheduler adds the replicas
			}
		}
	}
}

func (c *Cluster) internalTableLocked(name string) *olapTable {
	if d := c.dbLocked(InternalSchemaDB); d != nil {
		for _, t := range d.tables {
			if t.name == name {
				return t
			}
		}
	}
	return nil
}

// internalReplicaBackendsLocked counts the backends the raise waits for.
func (c *Cluster) internalReplicaBackendsLocked() int {
	hosts := map[string]bool{}
	n := 0
	for _, be := range c.backends {
		if !be.Alive {
			continue
		}
		if c.layout != Layout3 {
			n++
		} else if be.NodeRole != "computation" {
			hosts[be.Host] = true
		}
	}
	return n + len(hosts)
}
