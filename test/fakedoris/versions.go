package fakedoris

// Versions per node: the Version column of SHOW FRONTENDS and SHOW BACKENDS
// (apache/doris fe/fe-core/src/main/java/org/apache/doris/common/proc/FrontendsProcNode.java,
// BackendsProcDir.java: Version.DORIS_BUILD_VERSION_PREFIX "doris-" and the
// build's version, e.g. "doris-2.1.5-rc02-d5a02e095d"). A node that reports
// no version of its own (the zero Frontend / Backend, a node ALTER SYSTEM
// ADD created) shows DefaultVersion; an upgrade test changes them one node at
// a time, as a rolling restart onto a new image does.

// DefaultVersion is the Version column of a node whose test set none.
const DefaultVersion = "doris-2.1.5-rc02-d5a02e095d"

// ClusterID is the ClusterId column of SHOW FRONTENDS.
const ClusterID = "1807668748"

func versionOr(v string) string {
	if v == "" {
		return DefaultVersion
	}
	return v
}

// SetVersion sets the Version column of the frontends and backends on host
// (the node restarted on another image); it reports whether any matched.
func (c *Cluster) SetVersion(host, version string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	found := false
	for i := range c.frontends {
		if c.frontends[i].Host == host {
			c.frontends[i].Version, found = version, true
		}
	}
	for i := range c.backends {
		if c.backends[i].Host == host {
			c.backends[i].Version, found = version, true
		}
	}
	return found
}

// SetBackendsVersion sets the Version column of every backend (BE and CN).
func (c *Cluster) SetBackendsVersion(version string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.backends {
		c.backends[i].Version = version
	}
}

// Versions are the Version columns by host, frontends and backends.
func (c *Cluster) Versions() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]string{}
	for _, fe := range c.frontends {
		out[fe.Host] = versionOr(fe.Version)
	}
	for _, be := range c.backends {
		out[be.Host] = versionOr(be.Version)
	}
	return out
}
