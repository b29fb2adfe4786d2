package fakedoris

// Where replicas live beyond one tag and one table type: location tags
// and replication_allocation, async materialized views, the balancer, and
// the master's refusal of a DECOMMISSION that would leave a tag too few
// backends.
//
//   - A backend's location tag is shown in SHOW BACKENDS Tag as
//     {"location" : "<value>"} (apache/doris fe/fe-core/src/main/java/org/apache/doris/system/Backend.java
//     getTagMapString, resource/Tag.java toString); a partition's
//     replication_allocation is shown as "tag.location.a: 1,
//     tag.location.default: 2" (catalog/ReplicaAllocation.java
//     toCreateStmt), ReplicationNum being its sum (getTotalReplicaNum).
//     Replicas are placed and moved only to backends of their tag
//     (clone/TabletScheduler.java chooseProperTag).
//   - An MTMV (catalog/MTMV.java) extends OlapTable with type
//     MATERIALIZED_VIEW: partitions, tablets and replicas as an OLAP table's,
//     counted in TabletNum, moved by the scheduler; only SHOW PROC
//     '/dbs/<id>' shows it without details (common/proc/TablesProcDir.java).
//   - The balancer (clone/TabletScheduler.java selectTabletsForBalance,
//     clone/BeLoadRebalancer.java): with budget left after repairs and
//     decommissions, and unless disable_balance (or
//     disable_tablet_scheduler), a replica moves from the most to the least
//     loaded backend of a tag while they differ by more than one: a
//     backend added later fills up.
//   - DECOMMISSION: Layout3 (3.x) has apache/doris PR #32748
//     (alter/SystemHandler.java checkDecommissionWithReplicaAllocation) and
//     refuses it synchronously when a partition's replicas on a leaving
//     backend's tag exceed the other schedule-available backends of the tag
//     (Backend.isScheduleAvailable: alive, not decommissioned; compute nodes
//     count). Layout20 and Layout21 model a 2.0/2.1 FE without it
//     (SystemHandler.checkDecommission: "TODO(cmy): check if replication num
//     can be met"): accepted, and the replicas without a destination stay,
//     so it never finishes.

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// DefaultLocation is the location tag of a backend without one
// (Tag.VALUE_DEFAULT_TAG).
const DefaultLocation = "default"

// location is a backend's location tag.
func location(be Backend) string {
	if be.Location == "" {
		return DefaultLocation
	}
	return be.Location
}

// SetBackendLocation sets the location tag of the backends on host (ALTER
// SYSTEM MODIFY BACKEND … SET ("tag.location" = …)).
func (c *Cluster) SetBackendLocation(host, loc string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked()
	for i := range c.backends {
		if c.backends[i].Host == host {
			c.backends[i].Location = loc
		}
	}
}

// allocationOf is a partition's replicas per tag.
func allocationOf(p Partition) (map[string]int, error) {
	if p.Allocation == nil {
		if p.ReplicationNum < 1 {
			return nil, errors.New("no replicas")
		}
		return map[string]int{DefaultLocation: p.ReplicationNum}, nil
	}
	a := make(map[string]int, len(p.Allocation))
	for tag, n := range p.Allocation {
		if n < 0 || tag == "" {
			return nil, fmt.Errorf("tag %q: %d replicas", tag, n)
		}
		if n > 0 {
			a[tag] = n
		}
	}
	if t := total(a); t < 1 || p.ReplicationNum != 0 && p.ReplicationNum != t {
		return nil, fmt.Errorf("allocation of %d replicas, ReplicationNum %d", t, p.ReplicationNum)
	}
	return a, nil
}

func total(a map[string]int) int {
	n := 0
	for _, v := range a {
		n += v
	}
	return n
}

func sortedTags(a map[string]int) []string {
	tags := make([]string, 0, len(a))
	for t := range a {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	return tags
}

// allocationString is ReplicaAllocation.toCreateStmt (tags in name order:
// Doris' follow a HashMap's).
func allocationString(a map[string]int) string {
	parts := make([]string, 0, len(a))
	for _, t := range sortedTags(a) {
		parts = append(parts, fmt.Sprintf("tag.location.%s: %d", t, a[t]))
	}
	return strings.Join(parts, ", ")
}

// tagString is Tag.toString of a location tag.
func tagString(loc string) string { return `{"location" : "` + loc + `"}` }

// onTagLocked counts tb's replicas on backends of tag.
func (c *Cluster) onTagLocked(tb *tablet, tag string) int {
	n := 0
	for _, id := range tb.replicas {
		if be := c.backendLocked(id); be != nil && location(*be) == tag {
			n++
		}
	}
	return n
}

// balanceLocked moves up to n replicas, each from the most to the least
// loaded schedule-available mix backend of a tag while the two differ by
// more than one, and returns how many it moved.
func (c *Cluster) balanceLocked(n int, load map[int]int) int {
	tags := map[string]bool{}
	for _, be := range c.backends {
		tags[location(be)] = true
	}
	done := 0
	for done < n {
		moved := false
		for tag := range tags {
			bes := c.eligibleLocked(nil, tag)
			if len(bes) < 2 {
				continue
			}
			hi, lo := bes[0].ID, bes[0].ID
			for _, be := range bes {
				if load[be.ID] > load[hi] {
					hi = be.ID
				}
				if load[be.ID] < load[lo] {
					lo = be.ID
				}
			}
			if load[hi]-load[lo] <= 1 {
				continue
			}
			found := false
			c.tabletsLocked(func(tb *tablet) {
				if found || !tb.has(hi) || tb.has(lo) {
					return
				}
				for i, id := range tb.replicas {
					if id == hi {
						tb.replicas[i] = lo
					}
				}
				found = true
			})
			if found {
				load[hi]--
				load[lo]++
				done++
				moved = true
				if done >= n {
					break
				}
			}
		}
		if !moved {
			break
		}
	}
	return done
}

// checkDecommissionLocked is checkDecommissionWithReplicaAllocation for
// the backends at idxs, on Layout3 only (see above).
func (c *Cluster) checkDecommissionLocked(idxs []int) error {
	if c.layout != Layout3 {
		return nil
	}
	leaving, tags := map[int]bool{}, map[string]bool{}
	for _, i := range idxs {
		if be := c.backends[i]; !be.Decommissioned {
			leaving[be.ID], tags[location(be)] = true, true
		}
	}
	if len(leaving) == 0 {
		return nil
	}
	avail := map[string]int{}
	for _, be := range c.backends {
		if be.Alive && !be.Decommissioned && !leaving[be.ID] {
			avail[location(be)]++
		}
	}
	for _, d := range c.dbs {
		for _, t := range d.tables {
			for _, p := range t.partitions {
				for _, tag := range sortedTags(p.alloc) {
					if tags[tag] && p.alloc[tag] > avail[tag] {
						return fmt.Errorf("After decommission, partition %s of table %s.%s 's replication allocation { %s } > "+
							"available backend num %d on tag %s, otherwise need to decrease the partition's replication num.",
							p.name, d.name, t.name, allocationString(p.alloc), avail[tag], tagString(tag))
					}
				}
			}
		}
	}
	return nil
}

// BeforeStatement runs f once, when the first statement containing what
// arrives, before it is answered (a change racing a client's checks).
func (c *Cluster) BeforeStatement(what string, f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hooks = append(c.hooks, statementHook{what: what, f: f})
}

type statementHook struct {
	what string
	f    func()
}

// runHooks runs and forgets the BeforeStatement hooks q matches, without
// the lock (they may change the cluster).
func (c *Cluster) runHooks(q string) {
	c.mu.Lock()
	var run []func()
	kept := c.hooks[:0]
	for _, h := range c.hooks {
		if strings.Contains(q, h.what) {
			run = append(run, h.f)
		} else {
			kept = append(kept, h)
		}
	}
	c.hooks = kept
	c.mu.Unlock()
	for _, f := range run {
		f()
	}
}
