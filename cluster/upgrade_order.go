package cluster

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// UpgradeOrder is the order guard (step 6 of upgrade.go), run after the
// bootstrap and before every start of the component:
//
//  1. The node's own Doris version, read once: DORIS_ENTRYPOINT_DORIS_VERSION
//     when set, else as Doris reports it — the FE from the constants of
//     org/apache/doris/common/Version.class in fe/lib/doris-fe.jar
//     (apache/doris gensrc/script/gen_build_version.sh generates it; SHOW
//     FRONTENDS shows the same), the BE/CN from `be/lib/doris_be --version`
//     (whichever the image holds). Unknown: one log line, nothing below is
//     judged.
//  2. A node the cluster lists on another version than its own while no
//     upgrade is recorded: Warning UpgradeWithoutBegin (balance is on, the
//     cluster repairs and rebalances needlessly). A node that lists no
//     version (just added, no heartbeat yet: its first start) is not
//     judged.
//     When the FEs answer but cannot list the cluster (an election: this FE
//     may be the master that just restarted in an FE roll), it asks again,
//     up to Wait; when none answers at all (this may be the only FE), it
//     is not judged.
//  3. An FE whose line (major.minor) is newer than some BE's or CN's waits,
//     up to Wait, for them to report it: Warning UpgradeOrder when it
//     begins to wait and, if the wait ends at its bound, again when it
//     starts anyway. A patch-level difference is one log line. The wait
//     ends with ctx (debug mode, a stop), as every bootstrap wait does.
//     A BE/CN that is not alive is not waited for (it still lists the
//     version of its last heartbeat): Warning UpgradeOrderNotAlive names
//     each one on an older line once.
type UpgradeOrder struct {
	Node    *Node
	Records UpgradeRecords // nil: (2) is not judged
	Event   func(eventType, reason, message string)
	Version string        // DORIS_ENTRYPOINT_DORIS_VERSION: the own version, not detected
	Wait    time.Duration // DORIS_ENTRYPOINT_UPGRADE_WAIT; 0: no wait, the Warning only
	Poll    time.Duration // how often the wait reads SHOW BACKENDS; 0: 2 s

	once sync.Once
	own  Version
	err  error
}

func (o *UpgradeOrder) event(typ, reason, msg string) {
	if o.Event != nil {
		o.Event(typ, reason, msg)
	}
}

// OwnVersion is (1), read once.
func (o *UpgradeOrder) OwnVersion() (Version, error) {
	o.once.Do(func() {
		raw, src := o.Version, "DORIS_ENTRYPOINT_DORIS_VERSION"
		if raw == "" {
			raw, src, o.err = detectVersion(o.Node.Root)
			if o.err != nil {
				o.err = fmt.Errorf("%w; set DORIS_ENTRYPOINT_DORIS_VERSION", o.err)
				return
			}
		}
		if o.own, o.err = ParseVersion(raw); o.err != nil {
			o.err = fmt.Errorf("%s: %w", src, o.err)
		}
	})
	return o.own, o.err
}

// VersionText is OwnVersion for `status` and /status: the version, or
// "unknown" with the reason.
func (o *UpgradeOrder) VersionText() string {
	v, err := o.OwnVersion()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return v.Raw
}

// detectVersion reads the version of the Doris build under root, as Doris
// reports it: the FE's jar, else the BE's binary (a broker has neither).
func detectVersion(root string) (string, string, error) {
	jar := filepath.Join(root, "fe", "lib", "doris-fe.jar")
	if _, err := os.Stat(jar); err == nil {
		v, err := jarVersion(jar)
		return v, jar, err
	}
	bin := filepath.Join(root, "be", "lib", "doris_be")
	if _, err := os.Stat(bin); err != nil {
		return "", "", fmt.Errorf("no Doris build under %s (fe/lib/doris-fe.jar, be/lib/doris_be)", root)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "", bin, fmt.Errorf("%s --version: %w", bin, err)
	}
	v := reVersionIn.FindString(string(out))
	if v == "" {
		return "", bin, fmt.Errorf("%s --version printed no version", bin)
	}
	return v, bin, nil
}

// reVersionIn finds a version in doris_be --version's line
// ("doris-2.1.5-rc02(AVX2) RELEASE (build …)").
var reVersionIn = regexp.MustCompile(`(?:[A-Za-z][A-Za-z0-9]*-)*\d{1,4}\.\d{1,4}(?:\.\d{1,4}){0,2}(?:-[A-Za-z0-9][A-Za-z0-9._-]*)?`)

// jarVersion reads DORIS_BUILD_VERSION and DORIS_BUILD_SHORT_HASH (and,
// for a version without one, DORIS_BUILD_VERSION_PREFIX) from Version.class
// in jar, as the FE's heartbeat reports its version (apache/doris
// fe/fe-core/src/main/java/org/apache/doris/service/FrontendServiceImpl.java
// ping: DORIS_BUILD_VERSION + "-" + DORIS_BUILD_SHORT_HASH):
// "doris-2.1.5-rc02-d5a02e095d".
func jarVersion(jar string) (string, error) {
	zr, err := zip.OpenReader(jar)
	if err != nil {
		return "", err
	}
	defer zr.Close()
	f, err := zr.Open("org/apache/doris/common/Version.class")
	if err != nil {
		return "", fmt.Errorf("%s: %w", jar, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return "", fmt.Errorf("%s: %w", jar, err)
	}
	consts, err := classConstants(b)
	if err != nil {
		return "", fmt.Errorf("%s: Version.class: %w", jar, err)
	}
	v := consts["DORIS_BUILD_VERSION"]
	if v == "" {
		return "", fmt.Errorf("%s: Version.class has no DORIS_BUILD_VERSION", jar)
	}
	// gen_build_version.sh builds DORIS_BUILD_VERSION as
	// "${build_version_prefix}-${major}.${minor}.${patch}-${rc}": the prefix
	// is already in it. Only a version that starts with its numbers (a
	// build that dropped it) gets the prefix, so that SHOW FRONTENDS and
	// this read alike.
	if p := consts["DORIS_BUILD_VERSION_PREFIX"]; p != "" && v[0] >= '0' && v[0] <= '9' {
		v = p + "-" + v
	}
	if h := consts["DORIS_BUILD_SHORT_HASH"]; h != "" {
		v += "-" + h
	}
	return v, nil
}

// classConstants returns the String constants of a class file's static
// final fields, by field name (JVMS §4.4, §4.5, §4.7.2).
func classConstants(b []byte) (map[string]string, error) {
	r := bytes.NewReader(b)
	var hdr struct {
		Magic        uint32
		Minor, Major uint16
		Count        uint16
	}
	if err := binary.Read(r, binary.BigEndian, &hdr); err != nil || hdr.Magic != 0xCAFEBABE {
		return nil, errors.New("not a class file")
	}
	utf8 := map[uint16]string{}
	strs := map[uint16]uint16{} // CONSTANT_String → its Utf8
	u2 := func() uint16 { var v uint16; binary.Read(r, binary.BigEndian, &v); return v }
	skip := func(n int64) { r.Seek(n, io.SeekCurrent) }
	for i := uint16(1); i < hdr.Count; i++ {
		tag, err := r.ReadByte()
		if err != nil {
			return nil, errors.New("truncated constant pool")
		}
		switch tag {
		case 1:
			n := u2()
			s := make([]byte, n)
			if _, err := io.ReadFull(r, s); err != nil {
				return nil, errors.New("truncated constant pool")
			}
			utf8[i] = string(s)
		case 8:
			strs[i] = u2()
		case 7, 16, 19, 20:
			skip(2)
		case 15:
			skip(3)
		case 3, 4, 9, 10, 11, 12, 17, 18:
			skip(4)
		case 5, 6:
			skip(8)
			i++
		default:
			return nil, fmt.Errorf("constant pool tag %d", tag)
		}
	}
	skip(6) // access, this, super
	skip(int64(u2()) * 2)
	out := map[string]string{}
	for n := u2(); n > 0; n-- {
		skip(2)
		name := utf8[u2()]
		skip(2)
		for a := u2(); a > 0; a-- {
			attr := utf8[u2()]
			var l uint32
			if err := binary.Read(r, binary.BigEndian, &l); err != nil {
				return nil, errors.New("truncated fields")
			}
			if attr == "ConstantValue" && l == 2 {
				if s, ok := strs[u2()]; ok {
					out[name] = utf8[s]
				}
				continue
			}
			skip(int64(l))
		}
	}
	return out, nil
}

// BeforeStart is (2) and (3); it returns ctx's error when ctx ends during
// the wait, and nil otherwise: nothing here keeps a node from starting.
func (o *UpgradeOrder) BeforeStart(ctx context.Context) error {
	if o == nil || o.Node == nil {
		return nil
	}
	log := o.Node.log()
	own, err := o.OwnVersion()
	if err != nil {
		log.Info("own Doris version unknown: the upgrade order is not checked", zap.Error(err))
		return nil
	}
	v, err := o.Node.Client.view(ctx, o.Node.FEAddrs, true)
	if err != nil && Answered(err) && o.Wait > 0 {
		v, err = o.viewAgain(ctx, log, err)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err != nil {
		log.Info("upgrade order: cannot read the cluster; not checked", zap.Error(err))
		return nil
	}
	o.withoutBegin(ctx, log, own, v)
	if !o.Node.Component.MySQLLiveness {
		return nil
	}
	behind, total, lowest, dead := backendsBehind(v, own)
	told := map[string]bool{}
	o.notAlive(log, own, dead, told)
	if len(behind) == 0 {
		if lowest != nil && own.Compare(*lowest) > 0 {
			log.Warn("upgrade order: this FE is a patch release ahead of some BE/CN; starting", zap.String("version", own.Raw),
				zap.String("lowest_backend", lowest.Raw))
		}
		return nil
	}
	msg := fmt.Sprintf("FE %s waits: %d of %d BE/CN still on %s; upgrade BE/CN first", own.Raw, len(behind), total, lowest.Raw)
	if o.Wait <= 0 {
		log.Warn("upgrade order: this FE is newer than some BE/CN; not waiting (DORIS_ENTRYPOINT_UPGRADE_WAIT=0)", zap.Strings("behind", behind))
		o.event("Warning", "UpgradeOrder", strings.Replace(msg, "waits", "starts without waiting", 1))
		return nil
	}
	log.Warn("upgrade order: this FE is newer than some BE/CN; waiting for them", zap.String("version", own.Raw),
		zap.Strings("behind", behind), zap.Duration("wait", o.Wait))
	o.event("Warning", "UpgradeOrder", fmt.Sprintf("%s (waits up to %s)", msg, o.Wait))
	poll := o.poll()
	deadline := time.NewTimer(o.Wait)
	defer deadline.Stop()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	start := time.Now()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			log.Warn("upgrade order: the wait ended; starting anyway", zap.Strings("behind", behind), zap.Duration("waited", o.Wait))
			o.event("Warning", "UpgradeOrder", fmt.Sprintf("FE %s starts anyway after %s: %d of %d BE/CN still on %s", own.Raw, o.Wait,
				len(behind), total, lowest.Raw))
			return nil
		case <-tick.C:
		}
		v, err := o.Node.Client.view(ctx, o.Node.FEAddrs, true)
		if err != nil {
			continue
		}
		behind, total, lowest, dead = backendsBehind(v, own)
		o.notAlive(log, own, dead, told)
		if len(behind) == 0 {
			log.Info("upgrade order: every BE/CN runs this FE's line; starting", zap.Duration("waited", time.Since(start).Round(time.Millisecond)))
			return nil
		}
	}
}

// poll is how often a wait reads the cluster.
func (o *UpgradeOrder) poll() time.Duration {
	if o.Poll <= 0 {
		return 2 * time.Second
	}
	return o.Poll
}

// viewAgain is (1)'s election case: it reads the cluster every Poll until
// it can, up to Wait or ctx.
func (o *UpgradeOrder) viewAgain(ctx context.Context, log *zap.Logger, first error) (*clusterView, error) {
	log.Info("upgrade order: the FEs answer but list no cluster (an election?); asking again", zap.Duration("wait", o.Wait),
		zap.Error(first))
	poll := o.poll()
	deadline := time.Now().Add(o.Wait)
	err := first
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
		var v *clusterView
		if v, err = o.Node.Client.view(ctx, o.Node.FEAddrs, true); err == nil {
			return v, nil
		}
	}
	return nil, err
}

// backendsBehind lists the alive BE/CN on an older line than own, how
// many alive BE/CN there are, and the lowest version among them; dead are
// the BE/CN not alive on an older line, "host (version)". A dead backend
// still lists the version of its last heartbeat (apache/doris
// fe/fe-core/src/main/java/org/apache/doris/system/Backend.java keeps it
// when the heartbeat fails), and it cannot report a new one until it is
// back: waiting for it would hold every FE start for the whole bound.
func backendsBehind(v *clusterView, own Version) (behind []string, total int, lowest *Version, dead []string) {
	for i := range v.Nodes {
		n := &v.Nodes[i]
		if n.Kind == "fe" || n.VersionError != "" {
			continue
		}
		if !n.Alive {
			if own.CompareLine(n.v) > 0 {
				dead = append(dead, fmt.Sprintf("%s (%s)", n.Host, n.Version))
			}
			continue
		}
		total++
		if lowest == nil || n.v.Compare(*lowest) < 0 {
			lowest = &n.v
		}
		if own.CompareLine(n.v) > 0 {
			behind = append(behind, n.Host)
		}
	}
	return behind, total, lowest, dead
}

// notAlive is the Warning for the BE/CN on an older line that are not
// alive, each named once.
func (o *UpgradeOrder) notAlive(log *zap.Logger, own Version, dead []string, told map[string]bool) {
	var fresh []string
	for _, d := range dead {
		if !told[d] {
			told[d] = true
			fresh = append(fresh, d)
		}
	}
	if len(fresh) == 0 {
		return
	}
	log.Warn("upgrade order: BE/CN on an older line are not alive; not waiting for them", zap.String("version", own.Raw), zap.Strings("not_alive", fresh))
	o.event("Warning", "UpgradeOrderNotAlive", fmt.Sprintf("FE %s does not wait for %d BE/CN that are not alive and last reported an older line: %s; "+
		"upgrade them before this FE's line serves them", own.Raw, len(fresh), strings.Join(fresh, ", ")))
}

// withoutBegin is (2).
func (o *UpgradeOrder) withoutBegin(ctx context.Context, log *zap.Logger, own Version, v *clusterView) {
	if o.Records == nil {
		return
	}
	host, err := o.Node.Host()
	if err != nil {
		return
	}
	port, err := o.Node.Port(o.Node.Component.Liveness)
	if o.Node.Component.MySQLLiveness {
		port, err = o.Node.Port(EditLogPort)
	}
	if err != nil {
		return
	}
	for _, n := range v.Nodes {
		// Only a real restart is judged: a row that lists a version, which
		// Doris takes from heartbeats alone. A node that has just joined
		// (ALTER SYSTEM ADD, no heartbeat yet) lists none (NULL or ""),
		// and has no earlier version to differ from.
		if n.Host != host || n.Port != port || n.VersionError != "" || (n.Kind == "fe") != o.Node.Component.MySQLLiveness {
			continue
		}
		if n.v.Compare(own) == 0 {
			return
		}
		rec := readRecord(ctx, o.Records, v.ClusterID)
		if !rec.known() || rec.Found {
			return
		}
		log.Warn("upgrade without upgrade begin: this node restarts on another version than the cluster lists for it",
			zap.String("listed", n.Version), zap.String("version", own.Raw))
		o.event("Warning", "UpgradeWithoutBegin", fmt.Sprintf("%s restarts on %s, listed on %s, and no upgrade is recorded: balance is on; "+
			"the cluster will repair and rebalance needlessly; run doris-entrypoint upgrade begin", host, own.Raw, n.Version))
		return
	}
}
