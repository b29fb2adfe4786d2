package supervisor

// tree is the main child's own process tree, the part of the namespace
// StopChild stops: the child's process group, every descendant of a
// member, and a member that was reparented (to PID 1, once its parent
// exited) stays one, known by pid and start time. What PID 1 adopted from
// elsewhere — the leftovers of a kubectl exec session, whose parent was
// outside the namespace — is not in it.
//
// Membership is learned from /proc: at the first refresh (before the
// child is signalled) and at every one after, so that a process forked
// while its parent stops, or one that left the group, is caught as long
// as its parent was seen first. A process the tree left before the first
// refresh, in a session of its own, is not known.
type tree struct {
	procDir string
	pgid    int              // the main child's group
	members map[int]uint64   // pid → start time
	termed  map[procKey]bool // members outside the group sent SIGTERM
}

type procKey struct {
	pid   int
	start uint64
}

func newTree(procDir string, c *Child) *tree {
	t := &tree{procDir: procDir, pgid: c.pid, members: map[int]uint64{}, termed: map[procKey]bool{}}
	t.refresh()
	return t
}

// refresh re-reads /proc and returns the live (not zombie) members.
func (t *tree) refresh() []procEntry {
	procs := processes(t.procDir)
	children := make(map[int][]procEntry)
	var queue []procEntry
	for _, e := range procs {
		children[e.ppid] = append(children[e.ppid], e)
		if start, ok := t.members[e.pid]; ok && start == e.start || e.pgid == t.pgid {
			queue = append(queue, e)
		}
	}
	members := make(map[int]uint64)
	var live []procEntry
	for len(queue) > 0 {
		e := queue[0]
		queue = queue[1:]
		if _, seen := members[e.pid]; seen {
			continue
		}
		members[e.pid] = e.start
		if !e.zombie {
			live = append(live, e)
		}
		queue = append(queue, children[e.pid]...)
	}
	t.members = members
	return live
}

// outsideGroup returns the live members outside the child's group that
// have not been sent SIGTERM yet, and marks them sent: the group's
// SIGTERM did not reach them.
func (t *tree) outsideGroup(live []procEntry) []int {
	var pids []int
	for _, e := range live {
		k := procKey{e.pid, e.start}
		if e.pgid != t.pgid && !t.termed[k] {
			t.termed[k] = true
			pids = append(pids, e.pid)
		}
	}
	return pids
}
