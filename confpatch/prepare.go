package confpatch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"go.uber.org/zap"
)

// ErrWorkloadGroup marks a workload-group set-up that failed: the container
// must not start then (be_entrypoint.sh exits 1 there too).
var ErrWorkloadGroup = errors.New("workload group")

// Prepare is what the operator's entrypoint scripts do to the files before
// every start (apache/doris docker/runtime/fe/resource/fe_entrypoint.sh,
// docker/runtime/be/resource/be_entrypoint.sh): link the Kerberos files, link
// the ConfigMap into the conf dir, set the keys the component needs, and for
// a BE with workload groups prepare the cgroup. Run does it in that order.
type Prepare struct {
	ConfDir      string            // DORIS_ROOT/fe/conf, DORIS_ROOT/be/conf
	Conf         string            // the component's conf in ConfDir: fe.conf, be.conf
	ConfigMapDir string            // CONFIGMAP_MOUNT_PATH
	Copies       []string          // ConfigMap files copied, not linked
	Ensure       map[string]string // keys set in Conf unless it sets them
	// Kerberos (mount_kerberos_config in the scripts): Krb5Mount's files go
	// into dirname Krb5Config; KeytabMount's into KeytabFinal when the two
	// differ. An empty Krb5Mount skips both.
	Krb5Mount, Krb5Config, KeytabMount, KeytabFinal string
	// WorkloadGroup (ENABLE_WORKLOAD_GROUP=true on a BE) prepares the cgroup
	// below CgroupRoot (default /sys/fs/cgroup; Filesystems, default
	// /proc/filesystems, must list cgroup) and sets doris_cgroup_cpu_path.
	WorkloadGroup           bool
	CgroupRoot, Filesystems string
	Logger                  *zap.Logger
}

// Run prepares the files; an error wrapping [ErrWorkloadGroup] must stop
// the container, any other is for the log.
func (p Prepare) Run() error {
	log := p.Logger
	if log == nil {
		log = zap.NewNop()
	}
	if err := p.linkKerberos(log); err != nil {
		return err
	}
	copies := map[string]bool{}
	for _, name := range p.Copies {
		copies[name] = true
	}
	linked, err := LinkConfigMap(p.ConfigMapDir, p.ConfDir, copies)
	for _, l := range linked {
		log.Info("conf from the ConfigMap", zap.String("file", l.Name), zap.Bool("copied", l.Copied), zap.String("backup", l.Backup))
	}
	if err != nil {
		return err
	}
	conf := filepath.Join(p.ConfDir, p.Conf)
	keys := make([]string, 0, len(p.Ensure))
	for k := range p.Ensure {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		appended, copied, err := EnsureValue(conf, k, p.Ensure[k])
		if appended {
			log.Info(k+" = "+p.Ensure[k]+" added to "+p.Conf, zap.Bool("copied_from_read_only_mount", copied))
		}
		if err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	if !p.WorkloadGroup {
		return nil
	}
	root, fsList := p.CgroupRoot, p.Filesystems
	if root == "" {
		root = "/sys/fs/cgroup"
	}
	if fsList == "" {
		fsList = "/proc/filesystems"
	}
	dir, err := PrepareWorkloadGroup(root, fsList)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWorkloadGroup, err)
	}
	if _, _, err := EnsureValue(conf, "doris_cgroup_cpu_path", dir); err != nil {
		return err
	}
	log.Info("workload group prepared", zap.String("dir", dir))
	return nil
}

// linkKerberos does what mount_kerberos_config does in the scripts.
func (p Prepare) linkKerberos(log *zap.Logger) error {
	if p.Krb5Mount == "" {
		return nil
	}
	cfg := p.Krb5Config
	if cfg == "" {
		cfg = "/etc/krb5.conf"
	}
	dir := filepath.Dir(cfg)
	names, err := LinkFiles(p.Krb5Mount, dir)
	if err != nil {
		return fmt.Errorf("kerberos config: %w", err)
	}
	log.Info("kerberos configuration linked", zap.String("from", p.Krb5Mount), zap.String("to", dir), zap.Strings("files", names))
	if p.KeytabMount != "" && p.KeytabFinal != "" && filepath.Clean(p.KeytabMount) != filepath.Clean(p.KeytabFinal) {
		names, err := LinkFiles(p.KeytabMount, p.KeytabFinal)
		if err != nil {
			return fmt.Errorf("keytabs: %w", err)
		}
		log.Info("keytabs linked", zap.String("from", p.KeytabMount), zap.String("to", p.KeytabFinal), zap.Strings("files", names))
	}
	return nil
}
