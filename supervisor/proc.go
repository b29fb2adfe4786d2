package supervisor

import (
	"bytes"
	"os"
	"strconv"
)

// procEntry is what the supervisor needs from /proc/<pid>/stat.
type procEntry struct {
	pid, ppid, pgid int
	zombie          bool
	start           uint64 // start time (clock ticks after boot): with pid, one process
}

// readProcStat parses /proc/<pid>/stat. The command name may hold spaces and
// parentheses, so fields are counted from the last ')'.
func readProcStat(procDir string, pid int) (procEntry, bool) {
	b, err := os.ReadFile(procDir + "/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procEntry{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procEntry{}, false
	}
	// After ")": " state ppid pgrp ..."
	f := bytes.Fields(b[i+1:])
	if len(f) < 3 {
		return procEntry{}, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgid, err2 := strconv.Atoi(string(f[2]))
	if err1 != nil || err2 != nil {
		return procEntry{}, false
	}
	e := procEntry{pid: pid, ppid: ppid, pgid: pgid, zombie: string(f[0]) == "Z"}
	if len(f) > 19 { // starttime is field 22 of stat, the 20th after ")"
		e.start, _ = strconv.ParseUint(string(f[19]), 10, 64)
	}
	return e, true
}

// descendants lists the live descendants of root found under procDir.
func descendants(procDir string, root int) []procEntry {
	d, err := os.Open(procDir)
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	children := make(map[int][]procEntry)
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		if e, ok := readProcStat(procDir, pid); ok {
			children[e.ppid] = append(children[e.ppid], e)
		}
	}
	var out []procEntry
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
	}
	return out
}

// allProcesses lists the live processes in procDir other than self.
func allProcesses(procDir string, self int) []procEntry {
	var out []procEntry
	for _, e := range processes(procDir) {
		if e.pid != self && !e.zombie {
			out = append(out, e)
		}
	}
	return out
}

// processes lists every process in procDir, zombies included.
func processes(procDir string) []procEntry {
	d, err := os.Open(procDir)
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	var out []procEntry
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		if e, ok := readProcStat(procDir, pid); ok {
			out = append(out, e)
		}
	}
	return out
}
