package cluster

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Defaults of Frontend's waits (fe_entrypoint.sh: 60 s for pod 0, 180 s
// otherwise).
const (
	DefaultNewClusterWait = 60 * time.Second
	DefaultMasterWait     = 180 * time.Second
)

// Frontend prepares an FE start: with metadata it starts as it is (plus
// --metadata_failure_recovery when asked); on a first start it finds the
// master by the IsMaster column, joins as FOLLOWER (ELECT_NUMBER > ordinal)
// or OBSERVER, checks it is listed, and starts with --helper. Without a
// master, only ordinal 0 may bootstrap a new cluster, and only after no FE at
// all answered for NewClusterWait: an FE that answers without a master means
// an election is going on, and starting a second cluster then would split
// the brain; after MasterWait that is an error.
type Join struct {
	Client         *Client
	FEAddrs        []string
	Host           string // this FE as the cluster knows it
	Ordinal        int
	EditLogPort    int
	ElectNumber    int
	MetaDir        string
	Recovery       bool // the selectdb.com.doris/recovery annotation
	NewClusterWait time.Duration
	MasterWait     time.Duration
	Interval       time.Duration
	Logger         *zap.Logger
}

// Prepare returns the arguments to add to start_fe.sh --console.
func (f Join) Prepare(ctx context.Context) ([]string, error) {
	log := f.Logger
	if log == nil {
		log = zap.NewNop()
	}
	role := filepath.Join(f.MetaDir, "image", "ROLE")
	if _, err := os.Stat(role); err == nil {
		logVLSN(f.MetaDir, log)
		if f.Recovery {
			log.Warn("METADATA FAILURE RECOVERY: the selectdb.com.doris/recovery annotation is set; starting with --metadata_failure_recovery",
				zap.String("meta_dir", f.MetaDir))
			return []string{"--metadata_failure_recovery"}, nil
		}
		log.Info("metadata present: starting as a member", zap.String("meta_dir", f.MetaDir))
		return nil, nil
	}
	self, err := HostPort(f.Host, f.EditLogPort)
	if err != nil {
		return nil, fmt.Errorf("frontend identity: %w", err)
	}
	newWait, masterWait, wait := f.NewClusterWait, f.MasterWait, f.Interval
	if newWait <= 0 {
		newWait = DefaultNewClusterWait
	}
	if masterWait <= 0 {
		masterWait = DefaultMasterWait
	}
	if wait <= 0 {
		wait = DefaultInterval
	}
	start, answered, lastLog := time.Now(), false, time.Time{}
	for attempt := 1; ; attempt++ {
		var why []string
		for _, fe := range f.FEAddrs {
			args, reason, ok := f.join(ctx, fe, self, log)
			if ok {
				return args, nil
			}
			if reason != "" && !strings.HasPrefix(reason, "unreachable") {
				answered = true
			}
			why = append(why, fe+": "+reason)
		}
		waited := time.Since(start)
		switch {
		case !answered && f.Ordinal == 0 && waited >= newWait:
			log.Warn("no FE answered at all: ordinal 0 bootstraps a new cluster", zap.Duration("waited", waited.Round(time.Second)),
				zap.Strings("fe_addrs", f.FEAddrs))
			return nil, nil
		case waited >= masterWait:
			if answered {
				return nil, fmt.Errorf("FEs answered but no master was elected within %s; not starting a second cluster (%s)", masterWait, strings.Join(why, "; "))
			}
			return nil, fmt.Errorf("no FE answered within %s and this is ordinal %d, which never bootstraps a cluster (%s)", masterWait, f.Ordinal, strings.Join(why, "; "))
		}
		if time.Since(lastLog) >= waitLogEvery || attempt == 1 {
			log.Info("waiting for an FE master to join", zap.String("fe", self), zap.Int("attempt", attempt),
				zap.Duration("waited", waited.Round(time.Second)), zap.Duration("left", (masterWait-waited).Round(time.Second)),
				zap.String("why", strings.Join(why, "; ")))
			lastLog = time.Now()
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// join asks one FE; ok means this FE is a member and args name the helper.
func (f Join) join(ctx context.Context, fe, self string, log *zap.Logger) (args []string, reason string, ok bool) {
	fes, err := f.Client.ShowFrontends(ctx, fe)
	switch {
	case err != nil && Reached(err):
		return nil, err.Error(), false // an answer: a cluster exists
	case err != nil:
		return nil, "unreachable: " + err.Error(), false
	}
	master, found := Master(fes)
	if !found {
		return nil, "no master elected", false
	}
	helper, err := HostPort(master.Host, master.EditLogPort)
	if err != nil {
		return nil, "master: " + err.Error(), false
	}
	if !listed(fes, self) {
		follower := f.ElectNumber > f.Ordinal
		if err := f.Client.AddFrontend(ctx, fe, follower, f.Host, f.EditLogPort); err != nil && !strings.Contains(err.Error(), "already exists") {
			return nil, "add frontend: " + err.Error(), false
		}
		role := "OBSERVER"
		if follower {
			role = "FOLLOWER"
		}
		log.Info("frontend added", zap.String("fe", self), zap.String("role", role), zap.String("master", helper))
		if fes, err = f.Client.ShowFrontends(ctx, fe); err != nil || !listed(fes, self) {
			return nil, "added but not listed yet", false
		}
	}
	ensureAdmin(ctx, f.Client, fe, log)
	log.Info("joining the cluster", zap.String("fe", self), zap.String("helper", helper))
	return []string{"--helper", helper}, "", true
}

func listed(fes []Frontend, self string) bool {
	for _, fe := range fes {
		if hp, _ := HostPort(fe.Host, fe.EditLogPort); hp == self {
			return true
		}
	}
	return false
}

// ensureAdmin creates the configured admin account once, as the scripts do;
// a failure is logged (without the password) and does not stop the start.
func ensureAdmin(ctx context.Context, c *Client, fe string, log *zap.Logger) {
	created, err := c.EnsureAdmin(ctx, fe, c.Admin)
	switch {
	case err != nil:
		log.Warn("cannot create the admin account", zap.String("fe", fe), zap.String("user", c.Admin.User), zap.Error(err))
	case created:
		log.Info("admin account created with NODE_PRIV", zap.String("fe", fe), zap.String("user", c.Admin.User))
	}
}

// logVLSN logs the last VLSN lines of the BDB-JE journal logs
// (meta_dir/bdb/je*), which people compare across FEs to pick the one to
// recover from — what fe_entrypoint.sh prints with grep | tail -n 10.
func logVLSN(metaDir string, log *zap.Logger) {
	files, _ := filepath.Glob(filepath.Join(metaDir, "bdb", "je*"))
	var lines []string
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for n := 1; sc.Scan(); n++ {
			if strings.Contains(sc.Text(), "VLSN:") {
				lines = append(lines, fmt.Sprintf("%s:%d:%s", name, n, sc.Text()))
			}
		}
		f.Close()
	}
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	for _, l := range lines {
		log.Info("bdb journal", zap.String("vlsn", l))
	}
}
