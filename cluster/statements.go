package cluster

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
)

// The statements of leaving the cluster and of the upgrade guard
// (apache/doris fe/fe-core/src/main/java/org/apache/doris/alter/SystemHandler.java;
// docs/sql-manual/sql-statements/cluster-management/instance-management/DECOMMISSION-BACKEND.md).
// Every host and port goes through HostPort, every config key through
// validKey: nothing read from outside reaches SQL unvalidated.

// Decommission sends ALTER SYSTEM DECOMMISSION BACKEND "host:port": the FE
// moves the backend's replicas away, then drops it
// (drop_backend_after_decommission).
func (c *Client) Decommission(ctx context.Context, addr, host string, heartbeatPort int) error {
	return c.hostStatement(ctx, addr, `ALTER SYSTEM DECOMMISSION BACKEND "%s"`, host, heartbeatPort)
}

// CancelDecommission sends CANCEL DECOMMISSION BACKEND "host:port".
func (c *Client) CancelDecommission(ctx context.Context, addr, host string, heartbeatPort int) error {
	return c.hostStatement(ctx, addr, `CANCEL DECOMMISSION BACKEND "%s"`, host, heartbeatPort)
}

// DropComputeNode sends ALTER SYSTEM DROPP BACKEND "host:port", which drops
// a backend whatever it holds. Only for a compute node (it holds no
// replicas): the caller checks NodeRole and TabletNum first.
func (c *Client) DropComputeNode(ctx context.Context, addr, host string, heartbeatPort int) error {
	return c.hostStatement(ctx, addr, `ALTER SYSTEM DROPP BACKEND "%s"`, host, heartbeatPort)
}

// DropFrontend sends ALTER SYSTEM DROP FOLLOWER|OBSERVER "host:port" (never
// the master: the FE refuses it).
func (c *Client) DropFrontend(ctx context.Context, addr string, follower bool, host string, editLogPort int) error {
	role := "OBSERVER"
	if follower {
		role = "FOLLOWER"
	}
	return c.hostStatement(ctx, addr, `ALTER SYSTEM DROP `+role+` "%s"`, host, editLogPort)
}

func (c *Client) hostStatement(ctx context.Context, addr, format, host string, port int) error {
	hp, err := HostPort(host, port)
	if err != nil {
		return err
	}
	_, _, err = c.exec(ctx, addr, fmt.Sprintf(format, hp))
	return err
}

// validKey accepts the FE config keys this client sets.
var validKey = regexp.MustCompile(`^[a-z][a-z0-9_]{0,127}$`)

// FrontendConfig reads a config of the FE at addr (SHOW FRONTEND CONFIG
// LIKE 'key'): its value, and false when the FE does not know the key.
func (c *Client) FrontendConfig(ctx context.Context, addr, key string) (string, bool, error) {
	if !validKey.MatchString(key) {
		return "", false, fmt.Errorf("invalid config key %q", key)
	}
	cols, rows, err := c.exec(ctx, addr, "SHOW FRONTEND CONFIG LIKE '"+key+"'")
	if err != nil {
		return "", false, fmt.Errorf("show frontend config on %s: %w", addr, err)
	}
	t := newTable(cols, rows)
	for _, r := range rows {
		if t.get(r, "Key") == key {
			return t.get(r, "Value"), true, nil
		}
	}
	return "", false, nil
}

// SetFrontendConfig sends ADMIN SET FRONTEND CONFIG ("key" = "true"|"false")
// to the FE at addr (the master, for master-only keys).
func (c *Client) SetFrontendConfig(ctx context.Context, addr, key string, value bool) error {
	if !validKey.MatchString(key) {
		return fmt.Errorf("invalid config key %q", key)
	}
	_, _, err := c.exec(ctx, addr, fmt.Sprintf(`ADMIN SET FRONTEND CONFIG ("%s" = "%s")`, key, strconv.FormatBool(value)))
	return err
}

// Partition is one partition of an OLAP table or an async materialized
// view, as the replica checks need it.
type Partition struct {
	DB, Table, Name string
	Type            string // OLAP, MATERIALIZED_VIEW
	ReplicationNum  int    // the total
	// Allocation is the replicas per location tag ("default": 3), from
	// the ReplicaAllocation column; Alloc its text.
	Allocation map[string]int
	Alloc      string
}

// validID accepts the numeric ids SHOW PROC paths are built from.
var validID = regexp.MustCompile(`^[0-9]{1,19}$`)

// Partitions lists every partition of every table that holds replicas,
// in every database the FE at addr knows, with its replicas per location
// tag: SHOW PROC '/dbs', '/dbs/<db>', '/dbs/<db>/<table>/partitions' (any
// Doris version; the paths are built from numeric ids only). As Doris'
// own check (apache/doris fe/fe-core/src/main/java/org/apache/doris/alter/SystemHandler.java
// checkDecommissionWithReplicaAllocation over TableIf.isManagedTable()):
// OLAP tables and async materialized views, whose Type is
// MATERIALIZED_VIEW and whose ReplicaCount shows 0 in '/dbs/<db>'
// although they have tablets (common/proc/TablesProcDir.java), in every
// database, __internal_schema included (catalog/InternalSchemaInitializer.java
// raises its tables to 3 replicas at 3 backends); information_schema and
// mysql hold no tablets.
func (c *Client) Partitions(ctx context.Context, addr string) ([]Partition, error) {
	cols, rows, err := c.exec(ctx, addr, "SHOW PROC '/dbs'")
	if err != nil {
		return nil, fmt.Errorf("show proc '/dbs' on %s: %w", addr, err)
	}
	var out []Partition
	dbs := newTable(cols, rows)
	for _, db := range rows {
		dbID, dbName := dbs.get(db, "DbId"), dbs.get(db, "DbName")
		if !validID.MatchString(dbID) {
			return nil, fmt.Errorf("show proc '/dbs' on %s: database id %q", addr, dbID)
		}
		switch dbName {
		case "information_schema", "mysql":
			continue
		}
		cols, rows, err := c.exec(ctx, addr, "SHOW PROC '/dbs/"+dbID+"'")
		if err != nil {
			return nil, fmt.Errorf("tables of %s on %s: %w", dbName, addr, err)
		}
		tables := newTable(cols, rows)
		for _, tb := range rows {
			tbID, tbName := tables.get(tb, "TableId"), tables.get(tb, "TableName")
			typ := tables.get(tb, "Type")
			switch typ {
			case "":
				typ = "OLAP"
			case "OLAP", "MATERIALIZED_VIEW":
			default:
				continue // views, external tables: no replicas
			}
			if !validID.MatchString(tbID) {
				return nil, fmt.Errorf("tables of %s on %s: table id %q", dbName, addr, tbID)
			}
			cols, rows, err := c.exec(ctx, addr, "SHOW PROC '/dbs/"+dbID+"/"+tbID+"/partitions'")
			if err != nil {
				return nil, fmt.Errorf("partitions of %s.%s on %s: %w", dbName, tbName, addr, err)
			}
			parts := newTable(cols, rows)
			for _, p := range rows {
				n, err := strconv.Atoi(parts.get(p, "ReplicationNum"))
				if err != nil {
					return nil, fmt.Errorf("partitions of %s.%s on %s: ReplicationNum %q", dbName, tbName, addr, parts.get(p, "ReplicationNum"))
				}
				text := parts.get(p, "ReplicaAllocation")
				alloc, err := parseAllocation(text, n)
				if err != nil {
					return nil, fmt.Errorf("partitions of %s.%s on %s: %w", dbName, tbName, addr, err)
				}
				out = append(out, Partition{DB: dbName, Table: tbName, Name: parts.get(p, "PartitionName"), Type: typ,
					ReplicationNum: n, Allocation: alloc, Alloc: text})
			}
		}
	}
	return out, nil
}
