package confpatch

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// WorkloadGroupDir is the cgroup directory the BE uses for workload groups.
const WorkloadGroupDir = "cpu/doris"

// PrepareWorkloadGroup does what be_entrypoint.sh does for
// ENABLE_WORKLOAD_GROUP=true: require cgroup support (filesystems is
// /proc/filesystems), create <cgroupRoot>/cpu/doris (mode 0770, owned by
// root), and on cgroup v2 make cgroup.procs writable for all. It returns the
// directory for doris_cgroup_cpu_path.
func PrepareWorkloadGroup(cgroupRoot, filesystems string) (string, error) {
	fs, err := os.ReadFile(filesystems)
	if err != nil {
		return "", fmt.Errorf("workload group: %w", err)
	}
	if !bytes.Contains(fs, []byte("cgroup")) {
		return "", errors.New("workload group: the kernel has no cgroup filesystem")
	}
	dir := filepath.Join(cgroupRoot, WorkloadGroupDir)
	if err := os.MkdirAll(dir, 0o770); err != nil {
		return "", fmt.Errorf("workload group: %w", err)
	}
	if err := os.Chmod(dir, 0o770); err != nil {
		return "", fmt.Errorf("workload group: %w", err)
	}
	if err := os.Chown(dir, 0, 0); err != nil {
		return "", fmt.Errorf("workload group: %w", err)
	}
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
		procs := filepath.Join(cgroupRoot, "cgroup.procs")
		if err := os.Chmod(procs, 0o666); err != nil {
			return "", fmt.Errorf("workload group (cgroup v2): %w", err)
		}
	}
	return dir, nil
}
