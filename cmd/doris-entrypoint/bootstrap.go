package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/doris-entrypoint/confpatch"
	"github.com/apache/doris-entrypoint/probes/doris"
	"github.com/apache/doris-entrypoint/supervisor/bootstrap"
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

// backendBootstrap builds the BE/CN registration run before each start.
func backendBootstrap(feAddrs string, conf string, getenv lookupEnv, log *zap.Logger) (func(context.Context) error, error) {
	queryPort := 9030
	if v, ok := getenv(envFEQueryPort.name); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("%s %q: not a port", envFEQueryPort.name, v)
		}
		queryPort = n
	}
	addrs, err := bootstrap.FEAddrs(feAddrs, queryPort)
	if err != nil {
		return nil, err
	}
	env := func(k string) string { v, _ := getenv(k); return v }
	hostType, _ := getenv(envHostType.name)
	host, err := bootstrap.Identity(strings.EqualFold(hostType, "IP"), env, "/etc/hosts")
	if err != nil {
		return nil, err
	}
	client := &doris.Client{Admin: adminCredentials(getenv)}
	return func(ctx context.Context) error {
		data, err := os.ReadFile(conf)
		if err != nil {
			return fmt.Errorf("read %s: %w", conf, err)
		}
		hb, err := confpatch.PortValue(data, confpatch.BEPorts[0])
		if err != nil {
			return err
		}
		return bootstrap.Backend{Client: client, FEAddrs: addrs, Host: host, HeartbeatPort: hb, Logger: log}.Register(ctx)
	}, nil
}
