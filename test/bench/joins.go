package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/apache/doris-entrypoint/test/fakedoris"
)

// benchJoins measures, for n runs each, the time from starting
// `doris-entrypoint be` (a BE joining a running fake cluster) and
// `doris-entrypoint fe` (the first FE follower, no metadata) as PID 1 to its
// start script running, with the FE answering at once.
func benchJoins(entry, dir string, n int) error {
	_, ln, closeFE, err := fakeMaster(dir)
	if err != nil {
		return err
	}
	defer closeFE()
	sock := filepath.Join(dir, "joins.sock")
	started, err := listenEvents(sock, "started")
	if err != nil {
		return err
	}
	results := map[string][]float64{}
	for i := 0; i < n; i++ {
		for _, comp := range []string{"be", "fe"} {
			root := filepath.Join(dir, fmt.Sprintf("join-%s-%d", comp, i))
			for _, d := range []string{comp + "/bin", comp + "/conf"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					return err
				}
			}
			// The start script reports and exits: the time to it is the join.
			script := fmt.Sprintf("#!/bin/sh\nexec %s\n", filepath.Join(dir, "helper")+" report-started")
			if err := os.WriteFile(filepath.Join(root, comp, "bin", "start_"+comp+".sh"), []byte(script), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(root, comp, "conf", comp+".conf"), []byte("heartbeat_service_port = 9050\n"), 0o644); err != nil {
				return err
			}
			cmd := exec.Command("unshare", "--pid", "--fork", "--mount-proc", entry, comp, ln.Addr().String())
			cmd.Env = append(os.Environ(), "DORIS_ENTRYPOINT_PROBE_ADDR=127.0.0.1:0", "HELPER_EVENTS="+sock, "DORIS_ROOT="+root, "DORIS_ENTRYPOINT_PODINFO_DIR="+filepath.Join(root, "podinfo"),
				"POD_FQDN="+comp+"-"+strconv.Itoa(i+1)+".internal", "CONFIGMAP_MOUNT_PATH="+filepath.Join(root, "none"))
			t0 := time.Now()
			if err := cmd.Start(); err != nil {
				return err
			}
			if err := waitChan(started, 30*time.Second); err != nil {
				cmd.Process.Kill()
				return fmt.Errorf("%s join %d: %w", comp, i, err)
			}
			results[comp] = append(results[comp], float64(time.Since(t0).Microseconds())/1000)
			cmd.Wait()
		}
	}
	// The anchor's way, re-enacted from its documented algorithm
	// (apache/doris docker/runtime/{fe,be}/resource/*_entrypoint.sh): one mysql process per query, the
	// same statements, against the same fake FE.
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	anchor := filepath.Join(dir, "anchor.sh")
	if err := os.WriteFile(anchor, []byte(anchorScript), 0o755); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		for _, comp := range []string{"be", "fe"} {
			t0 := time.Now()
			out, err := exec.Command("bash", anchor, comp, host, port, fmt.Sprintf("anchor-%s-%d.internal", comp, i)).CombinedOutput()
			if err != nil {
				return fmt.Errorf("anchor %s: %v\n%s", comp, err, out)
			}
			results["anchor-"+comp] = append(results["anchor-"+comp], float64(time.Since(t0).Microseconds())/1000)
		}
	}
	fmt.Printf("\nJoining a running fake cluster (FE answers at once): from the start to the start script, %d runs each.\n\n", n)
	fmt.Printf("| node | doris-entrypoint median (p90) | anchor re-enacted: mysql per query, median (p90) | target |\n|---|---|---|---|\n")
	row := func(name, k string) {
		fmt.Printf("| %s | %.0f ms (%.0f ms) | %.0f ms (%.0f ms) | ≤ 500 ms median |\n", name, median(results[k]), percentile(results[k], 0.9),
			median(results["anchor-"+k]), percentile(results["anchor-"+k], 0.9))
	}
	row("BE: SHOW BACKENDS, SHOW FRONTENDS, (grants,) ADD BACKEND, SHOW BACKENDS, MODIFY, start", "be")
	row("first FE follower: SHOW FRONTENDS, ADD FOLLOWER, SHOW FRONTENDS, start --helper", "fe")
	return nil
}

// anchorScript re-enacts, with the real mysql client (one process per
// query, as be_entrypoint.sh / fe_entrypoint.sh run it), the statements the
// scripts send to join a running cluster whose FE answers at once. It is
// written from their documented algorithm, not copied from them.
const anchorScript = `#!/bin/bash
comp=$1 fe=$2 port=$3 self=$4
q() { timeout 15 mysql --skip-ssl --connect-timeout 2 -h "$fe" -P "$port" -uroot --batch "$@"; }
if [ "$comp" = be ]; then
	while :; do
		if q --skip-column-names -e 'show backends;' | grep -qw "$self"; then
			q --skip-column-names -e "ALTER SYSTEM MODIFY BACKEND \"$self:9050\" SET (\"disable_query\" = \"false\",\"disable_load\"=\"false\");"
			break
		fi
		leader=$(q -e 'show frontends;' | awk -F'\t' 'NR==1{for(i=1;i<=NF;i++) if($i=="IsMaster") p=i; next} $p=="true"{print $2}')
		if [ -n "$leader" ]; then
			q -e 'SHOW ALL GRANTS;' >/dev/null
			q --skip-column-names -e "ALTER SYSTEM ADD BACKEND \"$self:9050\";"
		else
			sleep 2
		fi
	done
else
	leader=$(q -e 'show frontends;' | awk -F'\t' 'NR==1{for(i=1;i<=NF;i++) if($i=="IsMaster") p=i; next} $p=="true"{print $2}')
	q --skip-column-names -e "ALTER SYSTEM ADD FOLLOWER \"$self:9010\";"
	q -e 'show frontends;' | grep -qw "$self"
fi
exec true # start_xx.sh
`

// fakeMaster builds the helper (the fake FE/BE processes) into dir once and
// serves a fake FE master in this process; it returns the cluster, the FE's
// listener and how to close it.
func fakeMaster(dir string) (*fakedoris.Cluster, net.Listener, func() error, error) {
	if _, err := os.Stat(filepath.Join(dir, "helper")); err != nil {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "helper"), "./test/helper").CombinedOutput(); err != nil {
			return nil, nil, nil, fmt.Errorf("build helper: %v\n%s", err, out)
		}
	}
	c := fakedoris.NewCluster(fakedoris.Layout21)
	c.AddFrontend(fakedoris.Frontend{Host: "fe-0.fe-internal", EditLogPort: 9010, QueryPort: 9030, Role: "FOLLOWER",
		IsMaster: true, Alive: true, Join: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, nil, err
	}
	fe := fakedoris.ServeFE(ln, c, "fe-0.fe-internal")
	return c, ln, fe.Close, nil
}
