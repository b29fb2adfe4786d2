package fakedoris

// Versions per node: the Version column of SHOW FRONTENDS and SHOW BACKENDS
// (apache/doris fe/fe-core/src/main/java/org/apache/doris/common/proc/FrontendsProcNode.java,
// BackendsProcDir.java: what the node's last heartbeat answered,
// DORIS_BUILD_VERSION + "-" + DORIS_BUILD_SHORT_HASH, e.g.
// "doris-2.1.5-rc02-d5a02e095d"). A row a test adds without a version (the
// zero Frontend / Backend) shows DefaultVersion; a row ALTER SYSTEM ADD
// created shows none until the node's first heartbeat (Unreported); an
// upgrade test changes them one node at a time, as a rolling restart onto a
// new image does.

// DefaultVersion is the Version column of a node whose test set none.
const DefaultVersion = "doris-2.1.5-rc02-d5a02e095d"

// ClusterID is the ClusterId column of SHOW FRONTENDS.
const ClusterID = "1807668748"

// Unreported is the Version of a row ALTER SYSTEM ADD created, before the
// node's first heartbeat. Doris sets the version from heartbeats only and
// never persists it: a new Frontend's is null, so SHOW FRONTENDS prints NULL
// (fe/fe-core/src/main/java/org/apache/doris/system/Frontend.java: `private
// String version;`, set in handleHbResponse; FrontendsProcNode.java adds
// fe.getVersion()), and a new Backend's is "" (system/Backend.java: the
// constructor sets `this.version = ""`, handleHbResponse replaces it;
// BackendsProcDir.java adds backend.getVersion()). A failed heartbeat keeps
// the last one.
const Unreported = "\x00unreported"

// frontendVersion is the Version cell of SHOW FRONTENDS: nil is NULL.
func frontendVersion(v string) any {
	if v == Unreported {
		return nil
	}
	return versionOr(v)
}

// backendVersion is the Version cell of SHOW BACKENDS.
func backendVersion(v string) string {
	if v == Unreported {
		return ""
	}
	return versionOr(v)
}

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
		out[fe.Host], _ = frontendVersion(fe.Version).(string)
	}
	for _, be := range c.backends {
		out[be.Host] = backendVersion(be.Version)
	}
	return out
}
