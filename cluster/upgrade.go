package cluster

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Upgrading a cluster as the seed prescribes (the cluster-operations page:
// balance off, cn/be then fe then broker, no single replica, no single
// follower, no skipped version, Alive and Version checked, balance on). The
// operator does none of it (apache/doris-operator
// pkg/controller/sub_controller/*: no order between components, no balance
// switch, "//TODO check upgrade"), so it is done from inside the images,
// through `kubectl exec … doris-entrypoint upgrade check|begin|status|end`
// and the FE supervisors:
//
//  1. check: every FE, BE and CN with role, Version, Alive and
//     SystemDecommissioned, as one FE lists them. Unsafe (exit 1): no
//     master, a node not alive, a decommission running, a version that
//     cannot be read, single-replica partitions (a BE restart makes them
//     unavailable), and with --to a path that skips a feature line
//     (3.0 → 3.2) or goes back ([UpgradePath]). Warnings (exit 0): fewer
//     than 3 followers, versions already mixed, an FE newer than a BE.
//  2. begin: the check must pass (--force passes over it, never over a
//     running decommission: with the tablet scheduler off it would make no
//     progress). The record is written first ([UpgradeRecords]: it survives
//     FE restarts and master changes, the flags do not), then the three
//     flags ([UpgradeFlags]) are set on the master and read back. A flag
//     that cannot be set undoes both: the flags are set back to false and
//     the record removed, and the report says what the master reads. Event
//     UpgradeBegun. Begin on a recorded upgrade sets the flags again.
//  3. While the record exists, every FE supervisor ([UpgradeGuard]) reads
//     the master's flags at its start and every interval, and sets again
//     whatever a master change or restart turned back on: log line and
//     Event UpgradeFlagsReapplied each time. The master's own supervisor
//     acts at once, the others when the flags stay off a second round.
//     After setting them it reads the record again: if upgrade end removed
//     it meanwhile, it sets them back to false (never balance off after
//     the end).
//  4. status: versions per kind, the flags on the current master, the
//     record, and what runs next in the seed's order: BE/CN, then FE
//     (followers and observers, the master last), then brokers.
//  5. end: every node alive and on one Version, else refused with the
//     table (--force passes over it). The record is removed first (a guard
//     would turn the flags back on), then the flags are set to false and
//     read back. Event UpgradeEnded.
//
// Whatever fails (no FE answers, access denied, a version nobody can
// parse, a record that is missing or unreadable), the report says so in
// one line and says what the flags read on the master, or that they could
// not be read. A record that cannot be parsed counts as an upgrade in
// progress: the flags are kept on, which costs balance, never data.

// Finding is one line of a verdict.
type Finding struct {
	Level string `json:"level"` // unsafe (the check fails) or warning
	Text  string `json:"text"`
}

// Finding levels.
const (
	Unsafe  = "unsafe"
	Warning = "warning"
)

// UpgradeReport is what an upgrade command found and did.
type UpgradeReport struct {
	Command        string                    `json:"command"`
	ClusterID      string                    `json:"cluster_id,omitempty"`
	AnsweredBy     string                    `json:"answered_by,omitempty"`
	Nodes          []UpgradeNode             `json:"nodes"`
	Versions       map[string]map[string]int `json:"versions"` // kind → version → nodes
	Followers      int                       `json:"followers"`
	Partitions     *int                      `json:"single_replica_partitions,omitempty"`
	SingleExamples []string                  `json:"single_replica_examples,omitempty"`
	To             string                    `json:"to,omitempty"`
	Findings       []Finding                 `json:"findings"`
	Safe           bool                      `json:"safe"`
	Flags          FlagState                 `json:"flags"`
	Record         RecordState               `json:"record"`
	Next           string                    `json:"next,omitempty"`
	Result         string                    `json:"result"`
	OK             bool                      `json:"ok"` // the exit code is 0
}

func (r *UpgradeReport) add(level, format string, a ...any) {
	r.Findings = append(r.Findings, Finding{Level: level, Text: fmt.Sprintf(format, a...)})
	if level == Unsafe {
		r.Safe = false
	}
}

// Upgrade runs the upgrade commands against the FEs at FEAddrs.
type Upgrade struct {
	Client  *Client
	FEAddrs []string
	Records UpgradeRecords // nil: no API access
	// Event posts a Kubernetes Event on the pod the command runs in.
	Event func(eventType, reason, message string)
	Pod   string // POD_NAME, for the record
	Now   func() time.Time
}

func (u *Upgrade) event(typ, reason, msg string) {
	if u.Event != nil {
		u.Event(typ, reason, msg)
	}
}

func (u *Upgrade) now() time.Time {
	if u.Now != nil {
		return u.Now()
	}
	return time.Now()
}

// singleExamples is how many single-replica partitions a report names.
const singleExamples = 5

// survey reads the cluster into a fresh report; with partitions, the
// single-replica partitions too. It returns nil (and the report says why)
// when no FE could be read.
func (u *Upgrade) survey(ctx context.Context, cmd string, partitions bool) (*UpgradeReport, *clusterView) {
	r := &UpgradeReport{Command: cmd, Safe: true, Versions: map[string]map[string]int{}}
	v, err := u.Client.view(ctx, u.FEAddrs, true)
	if err != nil {
		r.Safe = false
		r.Result = "cannot read the cluster: " + err.Error()
		r.Flags = FlagState{Err: "no FE answered, so they could not be read"}
		r.Record = RecordState{Err: "the cluster id is unknown: no FE answered"}
		return r, nil
	}
	r.ClusterID, r.AnsweredBy, r.Nodes = v.ClusterID, v.Answered, v.Nodes
	for _, n := range v.Nodes {
		if r.Versions[n.Kind] == nil {
			r.Versions[n.Kind] = map[string]int{}
		}
		r.Versions[n.Kind][cmpOr(n.Version, "(none)")]++
		if n.Kind == "fe" && (n.Role == "follower" || n.Role == "master") {
			r.Followers++
		}
	}
	r.Flags = u.Client.masterFlags(ctx, v)
	r.Record = readRecord(ctx, u.Records, v.ClusterID)
	if partitions {
		parts, err := u.Client.Partitions(ctx, v.Answered)
		if err != nil {
			r.add(Unsafe, "cannot count the single-replica partitions: %v", err)
		} else {
			n := 0
			for _, p := range parts {
				if p.ReplicationNum == 1 {
					n++
					if len(r.SingleExamples) < singleExamples {
						r.SingleExamples = append(r.SingleExamples, p.DB+"."+p.Table+"."+p.Name)
					}
				}
			}
			r.Partitions = &n
		}
	}
	return r, v
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// judge adds the check's findings (1) to r; to is --to, parsed.
func judge(r *UpgradeReport, v *clusterView, to *Version) {
	if v.master == nil {
		r.add(Unsafe, "no FE is master (an election in progress, or the followers lost their quorum)")
	}
	var dead, decom, bad []string
	for _, n := range r.Nodes {
		name := fmt.Sprintf("%s %s:%d", n.Kind, n.Host, n.Port)
		if !n.Alive {
			dead = append(dead, name)
		}
		if n.Decommissioned {
			decom = append(decom, name)
		}
		if n.VersionError != "" {
			bad = append(bad, name+": "+n.VersionError)
		}
	}
	if len(dead) > 0 {
		r.add(Unsafe, "%d node(s) not alive: %s; upgrade with every node alive (a restart elsewhere would leave their tablets short of replicas)",
			len(dead), strings.Join(dead, ", "))
	}
	if len(decom) > 0 {
		r.add(Unsafe, "a decommission runs on %s: let it finish or CANCEL DECOMMISSION first (with the tablet scheduler off it makes no progress)",
			strings.Join(decom, ", "))
	}
	for _, b := range bad {
		r.add(Unsafe, "%s", b)
	}
	if r.Partitions != nil && *r.Partitions > 0 {
		more := ""
		if *r.Partitions > len(r.SingleExamples) {
			more = ", …"
		}
		r.add(Unsafe, "%d single-replica partition(s) (%s%s): each BE restart makes their data unavailable, and a disk lost during the roll "+
			"loses it; raise replication_num first", *r.Partitions, strings.Join(r.SingleExamples, ", "), more)
	}
	switch {
	case r.Followers == 1:
		r.add(Warning, "a single FE follower: each restart of it stops every metadata change until it is back; 3 followers keep a quorum through the roll")
	case r.Followers < 3:
		r.add(Warning, "%d FE followers: fewer than 3, a follower restart can cost the metadata quorum", r.Followers)
	}
	lo, hi, hiFE, loBE := versionBounds(r.Nodes)
	if lo != nil && hi != nil && lo.Line() != hi.Line() {
		r.add(Warning, "the nodes run different lines already (%s … %s): an upgrade is under way?", lo, hi)
	}
	if hiFE != nil && loBE != nil && hiFE.CompareLine(*loBE) > 0 {
		r.add(Warning, "an FE runs %s while a BE/CN still runs %s: the seed's order is BE/CN first, then FE", hiFE, loBE)
	}
	if to == nil || lo == nil {
		return
	}
	r.To = to.Raw
	switch {
	case to.Dev() || lo.Dev():
		r.add(Warning, "a development build (%s → %s): the version path is not checked", lo, to)
	default:
		if why := UpgradePath(*lo, *to); why != "" {
			r.add(Unsafe, "%s", why)
		} else if hi.Compare(*to) > 0 {
			r.add(Unsafe, "%s", UpgradePath(*hi, *to))
		}
	}
}

// versionBounds are the lowest and highest versions among nodes, the
// highest FE's and the lowest BE/CN's (an FE newer than some BE runs out of
// the seed's order).
func versionBounds(nodes []UpgradeNode) (lo, hi, hiFE, loBE *Version) {
	for i := range nodes {
		n := &nodes[i]
		if n.VersionError != "" {
			continue
		}
		if lo == nil || n.v.Compare(*lo) < 0 {
			lo = &n.v
		}
		if hi == nil || n.v.Compare(*hi) > 0 {
			hi = &n.v
		}
		if n.Kind == "fe" && (hiFE == nil || n.v.Compare(*hiFE) > 0) {
			hiFE = &n.v
		}
		if n.Kind != "fe" && (loBE == nil || n.v.Compare(*loBE) < 0) {
			loBE = &n.v
		}
	}
	return lo, hi, hiFE, loBE
}

func (r *UpgradeReport) done(ok bool, format string, a ...any) *UpgradeReport {
	r.OK, r.Result = ok, fmt.Sprintf(format, a...)
	return r
}

// Check is (1).
func (u *Upgrade) Check(ctx context.Context, to *Version) *UpgradeReport {
	r, v := u.survey(ctx, "check", true)
	if v == nil {
		return r
	}
	judge(r, v, to)
	if r.Safe {
		return r.done(true, "safe to upgrade: doris-entrypoint upgrade begin")
	}
	return r.done(false, "not safe to upgrade: see the findings")
}

// Begin is (2).
func (u *Upgrade) Begin(ctx context.Context, to *Version, force bool) *UpgradeReport {
	r, v := u.survey(ctx, "begin", true)
	if v == nil {
		return r
	}
	judge(r, v, to)
	for _, n := range r.Nodes {
		if n.Decommissioned {
			return r.done(false, "refused: a decommission runs (%s:%d); an upgrade turns the tablet scheduler off, which would stall it", n.Host, n.Port)
		}
	}
	switch {
	case !r.Record.known():
		return r.done(false, "refused: the upgrade could not be recorded (%s); the flags were not touched", r.Record.Err)
	case !r.Flags.Known():
		return r.done(false, "refused: the flags on the master cannot be read (%s); nothing was changed", r.Flags.Err)
	case r.Record.Found && r.Record.Corrupt == "":
		st, err := u.Client.setFlags(ctx, r.Flags.Master, UpgradeFlags, true)
		r.Flags = st
		if err != nil {
			return r.done(false, "an upgrade is recorded (%s), but the flags could not be set again: %v", r.Record, err)
		}
		return r.done(true, "an upgrade is already recorded (%s); the flags are on again at %s", r.Record, st.Master)
	case !r.Safe && !force:
		return r.done(false, "refused: the check found the cluster not safe to upgrade (see the findings; --force begins anyway); the flags were not touched")
	}
	rec := UpgradeRecord{ClusterID: r.ClusterID, BegunAt: u.now().UTC(), BegunBy: u.Pod, From: map[string]string{}}
	if to != nil {
		rec.To = to.Raw
	}
	for kind, vs := range r.Versions {
		names := make([]string, 0, len(vs))
		for name := range vs {
			names = append(names, name)
		}
		sort.Strings(names)
		rec.From[kind] = strings.Join(names, ", ")
	}
	if err := writeRecord(ctx, u.Records, rec); err != nil {
		return r.done(false, "refused: the upgrade could not be recorded (%v); the flags were not touched", err)
	}
	r.Record = RecordState{Found: true, Record: &rec}
	st, err := u.Client.setFlags(ctx, r.Flags.Master, UpgradeFlags, true)
	r.Flags = st
	if err != nil {
		// Undo: the flags back to false, the record away.
		back, berr := u.Client.setFlags(ctx, st.Master, UpgradeFlags, false)
		r.Flags = back
		derr := deleteRecord(ctx, u.Records, r.ClusterID)
		if derr == nil {
			r.Record = RecordState{}
		}
		msg := fmt.Sprintf("the flags could not be set (%v); undone: flags %s", err, back)
		if berr != nil {
			msg += fmt.Sprintf(" (setting them back failed too: %v)", berr)
		}
		if derr != nil {
			msg += fmt.Sprintf("; the record could not be removed (%v): run doris-entrypoint upgrade end", derr)
		}
		return r.done(false, "%s", msg)
	}
	msg := fmt.Sprintf("upgrade begun from %s: %s on at the master %s; upgrade BE/CN first, then FE (the master last), then brokers; "+
		"doris-entrypoint upgrade status follows it", fromText(rec.From), strings.Join(UpgradeFlags, ", "), st.Master)
	if rec.To != "" {
		msg = strings.Replace(msg, ": ", " to "+rec.To+": ", 1)
	}
	u.event("Normal", "UpgradeBegun", msg)
	return r.done(true, "%s", msg)
}

func fromText(from map[string]string) string {
	var parts []string
	for _, k := range []string{"fe", "be", "cn"} {
		if from[k] != "" {
			parts = append(parts, k+" "+from[k])
		}
	}
	return strings.Join(parts, "; ")
}

// Status is (4).
func (u *Upgrade) Status(ctx context.Context) *UpgradeReport {
	r, v := u.survey(ctx, "status", false)
	if v == nil {
		return r
	}
	r.Next = nextStep(r)
	recorded := r.Record.Found
	switch {
	case !r.Record.known():
		r.add(Warning, "whether an upgrade is recorded is unknown: %s", r.Record.Err)
	case r.Record.Corrupt != "":
		r.add(Warning, "the upgrade record cannot be read (%s): the FE supervisors keep the flags on; upgrade end removes it", r.Record.Corrupt)
	}
	switch {
	case !r.Flags.Known():
		r.add(Warning, "the flags on the master could not be read: %s", r.Flags.Err)
	case recorded && !r.Flags.All(true):
		r.add(Warning, "an upgrade is recorded but %s read(s) false on the master: the FE supervisors set them again within seconds; "+
			"upgrade begin sets them now", strings.Join(r.Flags.Off(), ", "))
	case !recorded && r.Record.known() && !r.Flags.All(false):
		r.add(Warning, "no upgrade is recorded, yet the flags are %s on the master (set by hand?): upgrade end sets them back to false", r.Flags)
	}
	return r.done(true, "upgrade %s; flags %s", map[bool]string{true: "recorded", false: "not recorded"}[recorded], r.Flags)
}

// nextStep is what runs next in the seed's order (4): BE/CN, then FE (the
// master last), then brokers. The target is the record's --to, else the
// newest version a node runs.
func nextStep(r *UpgradeReport) string {
	var target *Version
	if r.Record.Record != nil && r.Record.Record.To != "" {
		if t, err := ParseVersion(r.Record.Record.To); err == nil {
			target = &t
		}
	}
	if target == nil {
		_, target, _, _ = versionBounds(r.Nodes)
	}
	if target == nil {
		return "unknown: no node reports a version that can be read"
	}
	behind := func(kinds ...string) (left []string, total int) {
		for _, n := range r.Nodes {
			if !slices.Contains(kinds, n.Kind) {
				continue
			}
			total++
			if n.VersionError != "" || n.v.Compare(*target) < 0 {
				left = append(left, n.Host)
			}
		}
		return left, total
	}
	if left, total := behind("be", "cn"); len(left) > 0 {
		return fmt.Sprintf("BE/CN: %d of %d not on %s yet (%s)", len(left), total, target.Number(), strings.Join(left, ", "))
	}
	if left, total := behind("fe"); len(left) > 0 {
		master := ""
		for _, n := range r.Nodes {
			if n.Role == "master" {
				master = "; the master (" + n.Host + ") last"
			}
		}
		return fmt.Sprintf("FE: %d of %d not on %s yet (%s): observers and followers first%s", len(left), total, target.Number(), strings.Join(left, ", "), master)
	}
	if r.Record.Found {
		return fmt.Sprintf("every FE, BE and CN runs %s: brokers next (not listed here), then doris-entrypoint upgrade end", target.Number())
	}
	return fmt.Sprintf("every FE, BE and CN runs %s; no upgrade in progress", target.Number())
}

// End is (5).
func (u *Upgrade) End(ctx context.Context, force bool) *UpgradeReport {
	r, v := u.survey(ctx, "end", false)
	if v == nil {
		return r
	}
	// One version is one release number: the prefix, release candidate
	// and commit (a vendor's build, a re-spun candidate) do not count.
	versions := map[string][]string{} // number → the Version columns
	for _, n := range r.Nodes {
		if !n.Alive {
			r.add(Unsafe, "%s %s:%d is not alive", n.Kind, n.Host, n.Port)
		}
		if n.VersionError != "" {
			r.add(Unsafe, "%s %s:%d: %s", n.Kind, n.Host, n.Port, n.VersionError)
			continue
		}
		if num := n.v.Number(); !slices.Contains(versions[num], n.Version) {
			versions[num] = append(versions[num], n.Version)
		}
	}
	if len(versions) > 1 {
		var vs []string
		for _, raws := range versions {
			vs = append(vs, strings.Join(raws, " / "))
		}
		sort.Strings(vs)
		r.add(Unsafe, "the nodes run %d versions (%s): not every node is upgraded", len(vs), strings.Join(vs, ", "))
	}
	if !r.Safe && !force {
		return r.done(false, "refused: every node must be alive and on one version (--force ends anyway); the flags stay %s", r.Flags)
	}
	switch err := deleteRecord(ctx, u.Records, r.ClusterID); {
	case err != nil && !force:
		return r.done(false, "refused: the record could not be removed (%v), and while it exists the FE supervisors turn the flags "+
			"back on (--force sets them false anyway); the flags stay %s", err, r.Flags)
	case err == nil:
		r.Record = RecordState{}
	}
	st, err := u.Client.setFlags(ctx, r.Flags.Master, UpgradeFlags, false)
	r.Flags = st
	if err != nil {
		return r.done(false, "the record is removed, but the flags could not all be set to false (%v): they read %s; run upgrade end again", err, st)
	}
	msg := fmt.Sprintf("upgrade ended: %s off again at the master %s", strings.Join(UpgradeFlags, ", "), st.Master)
	if len(versions) == 1 {
		for num := range versions {
			msg += "; every node runs " + num
		}
	}
	u.event("Normal", "UpgradeEnded", msg)
	return r.done(true, "%s", msg)
}
