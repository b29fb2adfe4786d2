package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apache/doris-entrypoint/confpatch"
	"github.com/apache/doris-entrypoint/probes/doris"
	"github.com/apache/doris-entrypoint/supervisor"
	"github.com/apache/doris-entrypoint/supervisor/bootstrap"
	"github.com/apache/doris-entrypoint/supervisor/modes"
	"github.com/apache/doris-entrypoint/supervisor/podinfo"
	"go.uber.org/zap"
)

// The operator's variables the bootstrap reads (doris-contract.md §1).
var (
	envFEQueryPort = envVar{"FE_QUERY_PORT", "9030", "query port of the FE addresses given as FE_ADDRS (operator)"}
	envUser        = envVar{"USER", "root", "admin account tried after root is refused (operator); /etc/basic_auth/username overrides"}
	envPasswd      = envVar{"PASSWD", "", "its password (operator; never logged); /etc/basic_auth/password overrides"}
	envHostType    = envVar{"HOST_TYPE", "FQDN", "BE/CN: IP registers POD_IP instead of the FQDN"}
	envPodFQDN     = envVar{"POD_FQDN", "hostname -f", "this pod's FQDN as the cluster knows it"}
	envPodIP       = envVar{"POD_IP", "host address", "this pod's IP (IP mode)"}
)

var (
	envConnectTimeout = envVar{"DORIS_ENTRYPOINT_CONNECT_TIMEOUT", "2s", "timeout of each connection to an FE"}
	envQueryTimeout   = envVar{"DORIS_ENTRYPOINT_QUERY_TIMEOUT", "15s", "timeout of each query to an FE"}
)

// newClient returns the Doris client with the admin account and timeouts.
func newClient(getenv lookupEnv) (*doris.Client, error) {
	ct, err := durationEnv(getenv, envConnectTimeout, doris.DefaultConnectTimeout)
	if err != nil {
		return nil, err
	}
	qt, err := durationEnv(getenv, envQueryTimeout, doris.DefaultQueryTimeout)
	if err != nil {
		return nil, err
	}
	return &doris.Client{Admin: adminCredentials(getenv), ConnectTimeout: ct, QueryTimeout: qt}, nil
}

// basicAuthDir is where the operator mounts spec.authSecret.
const basicAuthDir = "/etc/basic_auth"

// adminCredentials returns USER/PASSWD, overridden by the basic-auth secret
// files (one trailing newline trimmed).
func adminCredentials(getenv lookupEnv) doris.Credentials {
	cr := doris.Credentials{User: "root"}
	if v, ok := getenv(envUser.name); ok && v != "" {
		cr.User = v
	}
	if v, ok := getenv(envPasswd.name); ok {
		cr.Password = v
	}
	if b, err := os.ReadFile(filepath.Join(basicAuthDir, "username")); err == nil {
		cr.User = strings.TrimSuffix(string(b), "\n")
		if b, err := os.ReadFile(filepath.Join(basicAuthDir, "password")); err == nil {
			cr.Password = strings.TrimSuffix(string(b), "\n")
		}
	}
	return cr
}

// bootstrapFunc is modes.Component.Bootstrap.
type bootstrapFunc = func(context.Context, podinfo.State) ([]string, error)

// backendBootstrap builds the BE/CN registration run before each start.
func backendBootstrap(feAddrs string, conf string, getenv lookupEnv, log *zap.Logger) (bootstrapFunc, error) {
	target, err := backendTarget(feAddrs, getenv)
	if err != nil {
		return nil, err
	}
	host, _ := target.host()
	addrs := target.feAddrs
	client, err := newClient(getenv)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, _ podinfo.State) ([]string, error) {
		data, err := os.ReadFile(conf)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", conf, err)
		}
		hb, err := confpatch.PortValue(data, confpatch.BEPorts[0])
		if err != nil {
			return nil, err
		}
		return nil, bootstrap.Backend{Client: client, FEAddrs: addrs, Host: host, HeartbeatPort: hb, Logger: log}.Register(ctx)
	}, nil
}

// The FE bootstrap's own variables.
var (
	envElectNumber    = envVar{"ELECT_NUMBER", "3", "operator: FEs with an ordinal below it join as FOLLOWER, the others as OBSERVER"}
	envNewClusterWait = envVar{"DORIS_ENTRYPOINT_NEW_CLUSTER_WAIT", "60s", "FE ordinal 0: how long no FE may answer at all before it bootstraps a new cluster"}
	envMasterWait     = envVar{"DORIS_ENTRYPOINT_MASTER_WAIT", "180s", "FE first start: how long to wait for a master before failing"}
)

// RecoveryAnnotation asks an FE with metadata to start with
// --metadata_failure_recovery (any value but "false").
const RecoveryAnnotation = "selectdb.com.doris/recovery"

// intEnv reads an integer variable within [lo, hi]; unset or empty is def.
func intEnv(getenv lookupEnv, v envVar, def, lo, hi int) (int, error) {
	s, ok := getenv(v.name)
	if !ok || s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s %q: want a number in %d..%d", v.name, s, lo, hi)
	}
	return n, nil
}

func durationEnv(getenv lookupEnv, v envVar, def time.Duration) (time.Duration, error) {
	s, ok := getenv(v.name)
	if !ok || s == "" {
		return def, nil
	}
	d, err := supervisor.ParseStopTimeout(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", v.name, err)
	}
	return d, nil
}

// frontendBootstrap builds the FE start preparation: metadata check, or
// master discovery and join.
func frontendBootstrap(feAddrs, dorisRoot, conf string, getenv lookupEnv, log *zap.Logger) (bootstrapFunc, error) {
	queryPort, err := intEnv(getenv, envFEQueryPort, 9030, 1, 65535)
	if err != nil {
		return nil, err
	}
	elect, err := intEnv(getenv, envElectNumber, 3, 1, 1<<30)
	if err != nil {
		return nil, err
	}
	newWait, err := durationEnv(getenv, envNewClusterWait, bootstrap.DefaultNewClusterWait)
	if err != nil {
		return nil, err
	}
	masterWait, err := durationEnv(getenv, envMasterWait, bootstrap.DefaultMasterWait)
	if err != nil {
		return nil, err
	}
	env := func(k string) string { v, _ := getenv(k); return v }
	client, err := newClient(getenv)
	if err != nil {
		return nil, err
	}
	home := filepath.Join(dorisRoot, "fe")
	return func(ctx context.Context, st podinfo.State) ([]string, error) {
		data, _ := os.ReadFile(conf) // a missing conf means Doris's defaults
		editLog, err := confpatch.PortValue(data, confpatch.Port{Key: "edit_log_port", Default: 9010})
		if err != nil {
			return nil, err
		}
		metaDir := filepath.Join(home, "doris-meta")
		if v, ok := confpatch.Value(data, "meta_dir"); ok && v != "" {
			metaDir = strings.NewReplacer("${DORIS_HOME}", home, "$DORIS_HOME", home).Replace(strings.Trim(v, `"`))
		}
		fqdn, err := bootstrap.Identity(false, env, "/etc/hosts")
		if err != nil {
			return nil, err
		}
		host, err := frontendHost(data, getenv)
		if err != nil {
			return nil, err
		}
		ordinal, err := bootstrap.Ordinal(fqdn)
		if err != nil {
			log.Warn("no ordinal in the FQDN: this FE never bootstraps a new cluster", zap.String("fqdn", fqdn))
			ordinal = -1
		}
		rec, hasRec := st.Annotations[RecoveryAnnotation]
		fe := bootstrap.Frontend{Client: client, Host: host, Ordinal: ordinal, EditLogPort: editLog, ElectNumber: elect,
			MetaDir: metaDir, Recovery: hasRec && !strings.EqualFold(strings.TrimSpace(rec), "false"),
			NewClusterWait: newWait, MasterWait: masterWait, Logger: log}
		if _, err := os.Stat(filepath.Join(metaDir, "image", "ROLE")); err != nil {
			if fe.FEAddrs, err = bootstrap.FEAddrs(feAddrs, queryPort); err != nil {
				return nil, err
			}
		}
		return fe.Prepare(ctx)
	}, nil
}

// Kerberos, as the operator sets it up (doris-contract.md §1.1).
var (
	envKrb5Mount   = envVar{"KRB5_MOUNT_PATH", "", "operator: when set, its files are linked into dirname $KRB5_CONFIG at start"}
	envKrb5Config  = envVar{"KRB5_CONFIG", "/etc/krb5.conf", "operator: where Kerberos reads its configuration"}
	envKeytabMount = envVar{"KEYTAB_MOUNT_PATH", "", "operator: mounted keytabs, linked into KEYTAB_FINAL_USED_PATH when that differs"}
	envKeytabFinal = envVar{"KEYTAB_FINAL_USED_PATH", "", "operator: where the keytabs are expected"}
)

// linkKerberos does what mount_kerberos_config does in the scripts.
func linkKerberos(getenv lookupEnv, log *zap.Logger) error {
	env := func(v envVar) string {
		if s, ok := getenv(v.name); ok && s != "" {
			return s
		}
		return v.def
	}
	mount := env(envKrb5Mount)
	if mount == "" {
		return nil
	}
	dir := filepath.Dir(env(envKrb5Config))
	names, err := confpatch.LinkFiles(mount, dir)
	if err != nil {
		return fmt.Errorf("kerberos config: %w", err)
	}
	log.Info("kerberos configuration linked", zap.String("from", mount), zap.String("to", dir), zap.Strings("files", names))
	keytabs, final := env(envKeytabMount), env(envKeytabFinal)
	if keytabs != "" && final != "" && filepath.Clean(keytabs) != filepath.Clean(final) {
		names, err := confpatch.LinkFiles(keytabs, final)
		if err != nil {
			return fmt.Errorf("keytabs: %w", err)
		}
		log.Info("keytabs linked", zap.String("from", keytabs), zap.String("to", final), zap.Strings("files", names))
	}
	return nil
}

var envWorkloadGroup = envVar{"ENABLE_WORKLOAD_GROUP", "false", "operator, BE: true prepares /sys/fs/cgroup/cpu/doris and sets doris_cgroup_cpu_path in be.conf"}

var envConfigMap = envVar{"CONFIGMAP_MOUNT_PATH", "/etc/doris", "operator: ConfigMap files linked (be.conf: copied) into the conf dir at start, the old ones kept as .bak"}

// prepareConf links the ConfigMap files into the conf dir and, for the FE,
// makes sure enable_fqdn_mode is set (true unless the conf says otherwise),
// copying a conf linked into a read-only mount first.
func prepareConf(comp, confDir string, getenv lookupEnv, log *zap.Logger) func() error {
	mount := "/etc/doris"
	if v, ok := getenv(envConfigMap.name); ok && v != "" {
		mount = v
	}
	return func() error {
		if err := linkKerberos(getenv, log); err != nil {
			return err
		}
		copyNames := map[string]bool{}
		if comp == "be" {
			copyNames["be.conf"] = true
		}
		linked, err := confpatch.LinkConfigMap(mount, confDir, copyNames)
		for _, l := range linked {
			log.Info("conf from the ConfigMap", zap.String("file", l.Name), zap.Bool("copied", l.Copied), zap.String("backup", l.Backup))
		}
		if err != nil {
			return err
		}
		if comp == "be" {
			if v, _ := getenv(envWorkloadGroup.name); v != "true" {
				return nil
			}
			dir, err := bootstrap.PrepareWorkloadGroup("/sys/fs/cgroup", "/proc/filesystems")
			if err != nil {
				return fmt.Errorf("%w: %w", modes.ErrFatal, err) // be_entrypoint.sh exits 1 here too
			}
			if _, _, err := confpatch.EnsureValue(filepath.Join(confDir, "be.conf"), "doris_cgroup_cpu_path", dir); err != nil {
				return err
			}
			log.Info("workload group prepared", zap.String("dir", dir))
			return nil
		}
		appended, copied, err := confpatch.EnsureValue(filepath.Join(confDir, "fe.conf"), "enable_fqdn_mode", "true")
		if appended {
			log.Info("enable_fqdn_mode = true added to fe.conf", zap.Bool("copied_from_read_only_mount", copied))
		}
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
}
