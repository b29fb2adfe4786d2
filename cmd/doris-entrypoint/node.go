package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/confpatch"
	"go.uber.org/zap"
)

// newNode is this pod as the cluster knows it.
func newNode(c cluster.Component, s Settings, feAddrs []string, log *zap.Logger) *cluster.Node {
	return &cluster.Node{
		Component: c, Root: s.DorisRoot, FEAddrs: feAddrs,
		Client:  s.client(),
		PodFQDN: s.PodFQDN, PodIP: s.PodIP, IPMode: s.IPMode, BrokerName: s.BrokerName,
		ElectNumber: s.ElectNumber, NewClusterWait: s.NewClusterWait, MasterWait: s.MasterWait,
		Logger: log,
	}
}

// prepareOf is the start-time preparation of node's files.
func prepareOf(s Settings, node *cluster.Node, log *zap.Logger) confpatch.Prepare {
	c := node.Component
	return confpatch.Prepare{
		ConfDir: filepath.Dir(node.ConfPath()), Conf: filepath.Base(c.Conf), ConfigMapDir: s.ConfigMapPath, Copies: c.ConfigMapCopies,
		Ensure: c.Ensure, Krb5Mount: s.Krb5Mount, Krb5Config: s.Krb5Config, KeytabMount: s.KeytabMount, KeytabFinal: s.KeytabFinal,
		WorkloadGroup: c.WorkloadGroup && s.WorkloadGroup, Logger: log,
	}
}

// client is an FE client with the operator's admin account and timeouts.
func (s Settings) client() *cluster.Client {
	return &cluster.Client{Admin: cluster.AdminCredentials(s.User, s.Password, cluster.BasicAuthDir),
		ConnectTimeout: s.ConnectTimeout, QueryTimeout: s.QueryTimeout}
}

// checkAdmin holds the admin account name that dir's username file gives
// (the basic-auth secret, cluster.AdminCredentials) to USER's rule, before
// anything starts. The error names the file and quotes the name; the
// password is never in it.
func (s Settings) checkAdmin(dir string) error {
	path := filepath.Join(dir, "username")
	if _, err := os.Stat(path); err != nil {
		return nil // no secret mounted: USER, already checked
	}
	if u := cluster.AdminCredentials(s.User, "", dir).User; cluster.ValidateUser(u) != nil {
		return fmt.Errorf("%s %q: %s", path, u, wantUser)
	}
	return nil
}

// feAddrs are the FEs a command run by a person asks: --fe, else
// ENV_FE_ADDR; a bad or missing one is cmd's usage error.
func (s Settings) feAddrs(cmd, flag string, stderr io.Writer) ([]string, bool) {
	addrs, err := cluster.FEAddrs(cmp.Or(flag, s.FEAddr), s.FEQueryPort)
	if err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint %s: %v (set --fe or ENV_FE_ADDR)\n", cmd, err)
		return nil, false
	}
	return addrs, true
}
