package cluster

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Whether a decommission can finish, per location tag. Doris places a
// partition's replicas by its replication_allocation, so many on each
// location tag, and moves a replica only to a backend of the same tag
// (apache/doris fe/fe-core/src/main/java/org/apache/doris/clone/TabletScheduler.java
// chooseProperTag). So a backend leaving tag T must leave, for every
// partition, at least its replica count on T of backends with T that can
// take replicas. FEs with apache/doris PR #32748 refuse such a
// DECOMMISSION (alter/SystemHandler.java
// checkDecommissionWithReplicaAllocation); older ones accept it, and it
// never finishes. This check is ours on every version, and stricter than
// Doris' where it can be: compute nodes and the other pods leaving do not
// count.

// reAllocItem is one "tag.location.<name>: <n>" of a ReplicaAllocation
// cell (catalog/ReplicaAllocation.java toCreateStmt; names as
// resource/Tag.java TAG_REGEX).
var reAllocItem = regexp.MustCompile(`^tag\.location\.([a-z][a-z0-9_]{0,32}): ([0-9]{1,5})$`)

// parseAllocation reads a ReplicaAllocation cell ("tag.location.a: 1,
// tag.location.default: 2"), whose sum is the partition's ReplicationNum;
// an empty cell (a version without the column) is total on default.
func parseAllocation(cell string, total int) (map[string]int, error) {
	if strings.TrimSpace(cell) == "" {
		return map[string]int{"default": total}, nil
	}
	alloc, sum := map[string]int{}, 0
	for _, item := range strings.Split(cell, ",") {
		m := reAllocItem.FindStringSubmatch(strings.TrimSpace(item))
		if m == nil {
			return nil, fmt.Errorf("ReplicaAllocation %q: cannot read %q", cell, item)
		}
		n, _ := strconv.Atoi(m[2]) // five digits at most
		alloc[m[1]] += n
		sum += n
	}
	if sum != total {
		return nil, fmt.Errorf("ReplicaAllocation %q: %d replicas, ReplicationNum %d", cell, sum, total)
	}
	return alloc, nil
}

// ReplicaShortfall says why the backends that remain per location tag
// (remaining) cannot take every partition's replicas on the tags of the
// backends leaving (leaving), naming the partition short by most:
// "" when they can.
func ReplicaShortfall(parts []Partition, remaining map[string]int, leaving []string) string {
	tags := append([]string(nil), leaving...)
	sort.Strings(tags)
	var worst *Partition
	worstTag, worstBy, short := "", 0, 0
	for i := range parts {
		p := &parts[i]
		for j, tag := range tags {
			if j > 0 && tag == tags[j-1] {
				continue
			}
			by := p.Allocation[tag] - remaining[tag]
			if by <= 0 {
				continue
			}
			short++
			if by > worstBy {
				worst, worstTag, worstBy = p, tag, by
			}
		}
	}
	if worst == nil {
		return ""
	}
	alloc := worst.Alloc
	if alloc == "" {
		alloc = fmt.Sprintf("tag.location.%s: %d", worstTag, worst.Allocation[worstTag])
	}
	msg := fmt.Sprintf("%d backends would remain on tag %s, and partition %s of %s.%s has %d replicas there (replication allocation { %s })",
		remaining[worstTag], worstTag, worst.Name, worst.DB, worst.Table, worst.Allocation[worstTag], alloc)
	if worst.Type == "MATERIALIZED_VIEW" {
		msg += ", an async materialized view"
	}
	if short > 1 {
		msg += fmt.Sprintf(", and %d more partitions are short", short-1)
	}
	return msg + "; the decommission could never finish"
}
