package fakedoris

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// The DDL a test sends over SQL to make data for a scale-in (CREATE
// DATABASE, CREATE TABLE with its buckets, replication and named
// partitions), mapped onto AddTable (tablets.go), with Doris' errors
// (apache/doris fe/fe-core/src/main/java/org/apache/doris/common/ErrorCode.java,
// datasource/InternalCatalog.java createDb / createTable). Columns, keys
// and the partitions' bounds are not kept.

var (
	reCreateDB    = regexp.MustCompile("(?is)^CREATE\\s+(?:DATABASE|SCHEMA)\\s+(IF\\s+NOT\\s+EXISTS\\s+)?(`[^`]+`|[A-Za-z_][A-Za-z0-9_-]*)\\s*(?:PROPERTIES\\s*\\(.*\\))?$")
	reCreateTable = regexp.MustCompile("(?is)^CREATE\\s+TABLE\\s+(IF\\s+NOT\\s+EXISTS\\s+)?((?:`[^`]+`|[A-Za-z_][A-Za-z0-9_-]*)(?:\\.(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*))?)\\s*(.*)$")
	reBuckets     = regexp.MustCompile(`(?is)\bDISTRIBUTED\s+BY\s+(?:HASH\s*\([^)]*\)|RANDOM)(?:\s+BUCKETS\s+(\d+|AUTO))?`)
	reReplNum     = regexp.MustCompile(`(?is)["']replication_num["']\s*=\s*["'](\d+)["']`)
	reReplAlloc   = regexp.MustCompile(`(?is)["']replication_allocation["']\s*=\s*["']([^"']*)["']`)
	reAllocItem   = regexp.MustCompile(`^\s*tag\.location\.([a-z][a-z0-9_]{0,32})\s*:\s*(\d+)\s*$`)
	rePartBy      = regexp.MustCompile(`(?is)\bPARTITION\s+BY\s+(?:RANGE|LIST)\s*\([^)]*\)\s*\((.*)\)\s*DISTRIBUTED\b`)
	rePartName    = regexp.MustCompile("(?is)\\bPARTITION\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)\\s+VALUES\\b")
)

// Doris' defaults (fe/fe-core/src/main/java/org/apache/doris/common/FeConstants.java):
// 3 replicas, 10 buckets when none (or AUTO) is given.
const (
	defaultReplicationNum = 3
	defaultBuckets        = 10
)

// ddlError is a DdlException as the client sees it: the ErrorCode's
// number and SQLSTATE, "errCode = 2, detailMessage = …".
func ddlError(code uint16, format string, a ...any) error {
	return mysql.NewError(code, "errCode = 2, detailMessage = "+fmt.Sprintf(format, a...))
}

func unquoteIdent(s string) string { return strings.Trim(s, "`") }

// ddl answers the statements above; ok false: not one of them.
func (h *handler) ddl(q string) (*mysql.Result, bool, error) {
	c := h.fe.cluster
	if m := reCreateDB.FindStringSubmatch(q); m != nil {
		name := unquoteIdent(m[2])
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.dbLocked(name) != nil || name == "information_schema" || name == "mysql" {
			if m[1] != "" {
				return &mysql.Result{}, true, nil
			}
			return nil, true, ddlError(mysql.ER_DB_CREATE_EXISTS, "Can't create database '%s'; database exists", name)
		}
		c.dbs = append(c.dbs, &database{id: c.newIDLocked(), name: name})
		return &mysql.Result{}, true, nil
	}
	m := reCreateTable.FindStringSubmatch(q)
	if m == nil {
		return nil, false, nil
	}
	db, table, ok := strings.Cut(m[2], ".")
	if !ok {
		db, table = h.db, m[2]
	}
	db, table = unquoteIdent(db), unquoteIdent(table)
	if db == "" {
		return nil, true, ddlError(mysql.ER_NO_DB_ERROR, "No database selected")
	}
	rest := m[3]
	repl, buckets := defaultReplicationNum, defaultBuckets
	var alloc map[string]int
	if r := reReplNum.FindStringSubmatch(rest); r != nil {
		repl, _ = strconv.Atoi(r[1])
	} else if r := reReplAlloc.FindStringSubmatch(rest); r != nil {
		// "tag.location.a: 1, tag.location.b: 2" (PropertyAnalyzer.analyzeReplicaAllocation).
		alloc, repl = map[string]int{}, 0
		for _, item := range strings.Split(r[1], ",") {
			m := reAllocItem.FindStringSubmatch(item)
			if m == nil {
				return nil, true, ddlError(mysql.ER_UNKNOWN_ERROR, "Invalid replication allocation property: %s", r[1])
			}
			n, _ := strconv.Atoi(m[2])
			alloc[m[1]] += n
			repl += n
		}
	}
	if b := reBuckets.FindStringSubmatch(rest); b != nil && b[1] != "" && !strings.EqualFold(b[1], "AUTO") {
		buckets, _ = strconv.Atoi(b[1])
	}
	if repl < 1 || repl > 32767 {
		return nil, true, ddlError(mysql.ER_UNKNOWN_ERROR, "Total replication num should between 1 and 32767")
	}
	if buckets < 1 {
		return nil, true, ddlError(mysql.ER_UNKNOWN_ERROR, "Number of hash distribution should be greater than zero.")
	}
	parts := []Partition{{ReplicationNum: repl, Buckets: buckets, Allocation: alloc}}
	if p := rePartBy.FindStringSubmatch(rest); p != nil {
		parts = nil
		for _, n := range rePartName.FindAllStringSubmatch(p[1], -1) {
			parts = append(parts, Partition{Name: unquoteIdent(n[1]), ReplicationNum: repl, Buckets: buckets, Allocation: alloc})
		}
		if len(parts) == 0 {
			return nil, true, ddlError(mysql.ER_UNKNOWN_ERROR, "fakedoris: a partitioned table needs at least one named partition")
		}
	}
	c.mu.Lock()
	d := c.dbLocked(db)
	exists := false
	if d != nil {
		for _, t := range d.tables {
			exists = exists || t.name == table
		}
	}
	c.mu.Unlock()
	switch {
	case d == nil:
		return nil, true, ddlError(mysql.ER_BAD_DB_ERROR, "Unknown database '%s'", db)
	case exists && m[1] != "":
		return &mysql.Result{}, true, nil
	case exists:
		return nil, true, ddlError(mysql.ER_TABLE_EXISTS_ERROR, "Table '%s' already exists", table)
	}
	if err := c.AddTable(db, table, parts...); err != nil {
		return nil, true, ddlError(mysql.ER_UNKNOWN_ERROR, "%s", err)
	}
	return &mysql.Result{}, true, nil
}

// notEnoughBackends is SystemInfoService.selectBackendIdsForReplicaCreation's
// refusal (apache/doris fe/fe-core/src/main/java/org/apache/doris/system/SystemInfoService.java, 2.1).
type notEnoughBackends struct {
	replicas int
	tag      string // location
}

func (e notEnoughBackends) Error() string {
	return "Failed to find enough backend, please check the replication num,replication tag and storage medium and avail " +
		"capacity of backends or maybe all be on same host.\nCreate failed replications:\n" +
		fmt.Sprintf(`replication tag: %s, replication num: %d, storage medium: HDD`, tagString(e.tag), e.replicas)
}

// showDatabases and showTables list the catalog, as SHOW DATABASES and
// SHOW TABLES do.
func (c *Cluster) showDatabases() ([]string, [][]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rows := [][]any{{"information_schema"}, {"mysql"}}
	for _, d := range c.dbs {
		rows = append(rows, []any{d.name})
	}
	return []string{"Database"}, rows
}

func (c *Cluster) showTables(db string) ([]string, [][]any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if db == "" {
		return nil, nil, ddlError(mysql.ER_NO_DB_ERROR, "No database selected")
	}
	var rows [][]any
	if d := c.dbLocked(db); d != nil {
		for _, t := range d.tables {
			rows = append(rows, []any{t.name})
		}
	} else if db != "information_schema" && db != "mysql" {
		return nil, nil, ddlError(mysql.ER_BAD_DB_ERROR, "Unknown database '%s'", db)
	}
	return []string{"Tables_in_" + db}, rows, nil
}
