package fakedoris

import (
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// SetCatalogNotReady makes every FE answer every query as a Doris FE does
// while its catalog is not ready (it is up, but the cluster is electing or
// replaying its journal): ERROR 1105 (HY000), "errCode = 2, detailMessage =
// Node catalog is not ready, please wait for a while."
// (apache/doris fe/fe-core/src/main/java/org/apache/doris/qe/ConnectProcessor.java).
func (c *Cluster) SetCatalogNotReady(v bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notReady = v
}

func (c *Cluster) notReadyError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.notReady {
		return nil
	}
	return mysql.NewError(mysql.ER_UNKNOWN_ERROR, "errCode = 2, detailMessage = Node catalog is not ready, please wait for a while.")
}

// SetFrontendColumns makes SHOW FRONTENDS answer with only these columns:
// a result a client that reads by column name cannot use.
func (c *Cluster) SetFrontendColumns(cols []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.feCols = cols
}

// onlyColumns keeps the SetFrontendColumns columns; c.mu is held.
func (c *Cluster) onlyColumns(names []string, rows [][]any) ([]string, [][]any) {
	if c.feCols == nil {
		return names, rows
	}
	var keep []int
	for _, want := range c.feCols {
		for i, n := range names {
			if n == want {
				keep = append(keep, i)
			}
		}
	}
	out := make([][]any, len(rows))
	for r, row := range rows {
		for _, i := range keep {
			out[r] = append(out[r], row[i])
		}
	}
	return c.feCols, out
}

// RefuseStatements makes every FE answer the statements containing what
// with ERROR 1105 and message (an FE that refuses an ALTER SYSTEM).
func (c *Cluster) RefuseStatements(what, message string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refuse == nil {
		c.refuse = map[string]string{}
	}
	c.refuse[what] = message
}

// refused is the RefuseStatements error for q, if any.
func (c *Cluster) refused(q string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for what, msg := range c.refuse {
		if strings.Contains(q, what) {
			return mysql.NewError(mysql.ER_UNKNOWN_ERROR, "errCode = 2, detailMessage = "+msg)
		}
	}
	return nil
}

// HideBackend makes the next answers SHOW BACKENDS answers (on any FE)
// omit the rows of host: a partial answer, as from a master that has not
// replayed its journal yet, or a proxy.
func (c *Cluster) HideBackend(host string, answers int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hidden == nil {
		c.hidden = map[string]int{}
	}
	c.hidden[host] = answers
}

// HideBackendOnFollowers makes every FE but the master omit the rows of
// host from SHOW BACKENDS, until called with false: a follower or observer
// answering from its own view of the catalog, which lags the master's
// journal (SHOW BACKENDS is forwarded to the master only while the
// session's forward_to_master is true: apache/doris
// fe/fe-core/src/main/java/org/apache/doris/analysis/ShowBackendsStmt.java).
func (c *Cluster) HideBackendOnFollowers(host string, hide bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.followerHidden == nil {
		c.followerHidden = map[string]bool{}
	}
	c.followerHidden[host] = hide
}

// hiddenLocked says whether the answer an FE on self is writing omits the
// backend on host; it counts the answer down once per call with count.
func (c *Cluster) hiddenLocked(self, host string) bool {
	if c.followerHidden[host] && !c.isMasterLocked(self) {
		return true
	}
	return c.hidden[host] > 0
}

// isMasterLocked says whether the FE on self is the master now.
func (c *Cluster) isMasterLocked(self string) bool {
	for _, fe := range c.frontends {
		if fe.Host == self {
			return fe.IsMaster && !c.noMaster
		}
	}
	return false
}

// answeredLocked counts one answer off every partial-answer fault.
func (c *Cluster) answeredLocked() {
	for h, n := range c.hidden {
		if n > 0 {
			c.hidden[h] = n - 1
		}
	}
}
