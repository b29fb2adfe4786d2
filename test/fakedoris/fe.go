package fakedoris

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/server"
)

// FE is one fake frontend serving the MySQL protocol on a listener.
type FE struct {
	cluster *Cluster
	host    string // this FE's Host column (SHOW FRONTENDS CurrentConnected)
	version string // @@version_comment's; "": DefaultVersion
	ln      net.Listener
	wg      sync.WaitGroup
}

// ServeFE serves the MySQL protocol of a fake FE on ln until Close.
func ServeFE(ln net.Listener, c *Cluster, host string) *FE {
	fe := &FE{cluster: c, host: host, ln: ln}
	fe.wg.Add(1)
	go func() {
		defer fe.wg.Done()
		serveMySQL(ln, credentials{c}, func(nc net.Conn) (server.Handler, bool) {
			if c.takeDrop() {
				return nil, false
			}
			return &handler{fe: fe}, true
		})
	}()
	return fe
}

// Addr is the listening address.
func (fe *FE) Addr() net.Addr { return fe.ln.Addr() }

// Close stops accepting connections.
func (fe *FE) Close() error {
	err := fe.ln.Close()
	fe.wg.Wait()
	return err
}

// serveMySQL accepts connections on ln until it is closed and serves each
// with the handler open returns (none: the connection is dropped).
func serveMySQL(ln net.Listener, creds server.CredentialProvider, open func(net.Conn) (server.Handler, bool)) {
	srv := server.NewServer("5.7.99", mysql.DEFAULT_COLLATION_ID, mysql.AUTH_NATIVE_PASSWORD, nil, nil)
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go func() {
			h, ok := open(nc)
			if !ok {
				nc.Close()
				return
			}
			conn, err := server.NewCustomizedConn(nc, srv, creds, h)
			if err != nil {
				nc.Close()
				return
			}
			for !conn.Closed() {
				if conn.HandleCommand() != nil {
					return
				}
			}
		}()
	}
}

// credentials answers go-mysql's authentication from the cluster's users.
type credentials struct{ c *Cluster }

func (p credentials) CheckUsername(user string) (bool, error) {
	_, ok := p.c.password(user)
	return ok, nil
}

func (p credentials) GetCredential(user string) (string, bool, error) {
	pw, ok := p.c.password(user)
	return pw, ok, nil
}

// handler answers the statements the entrypoints and the operator send.
type handler struct {
	server.EmptyHandler
	fe *FE
	db string // USE's (ddl.go)
}

var (
	reAlter  = regexp.MustCompile(`(?is)^ALTER\s+SYSTEM\s+(ADD|DROP|DROPP|DECOMMISSION|MODIFY)\s+(FOLLOWER|OBSERVER|BACKEND)\s+"([^"]*)"\s*(.*)$`)
	reCancel = regexp.MustCompile(`(?is)^CANCEL\s+DECOMMISSION\s+BACKEND\s+"([^"]*)"\s*(.*)$`)
	reProc   = regexp.MustCompile(`(?is)^SHOW\s+PROC\s+(?:'([^']*)'|"([^"]*)")$`)
	reCreate = regexp.MustCompile(`(?is)^CREATE\s+USER\s+'((?:[^'\\]|\\.)+)'\s+IDENTIFIED\s+BY\s+'((?:[^'\\]|\\.)*)'$`)
	// SELECT @@version_comment [LIMIT 1] (mysql sends it on connecting).
	reVersionComment = regexp.MustCompile(`(?is)^SELECT\s+@@(?:global\.|session\.)?version_comment(?:\s+LIMIT\s+1)?$`)
	unescape         = strings.NewReplacer(`\\`, `\`, `\'`, `'`, `\"`, `"`)
)

// UseDB is USE (COM_INIT_DB): a database of the catalog.
func (h *handler) UseDB(db string) error {
	c := h.fe.cluster
	c.mu.Lock()
	known := c.dbLocked(db) != nil || db == "information_schema" || db == "mysql"
	c.mu.Unlock()
	if !known {
		return ddlError(mysql.ER_BAD_DB_ERROR, "Unknown database '%s'", db)
	}
	h.db = db
	return nil
}

func (h *handler) HandleQuery(query string) (*mysql.Result, error) {
	c := h.fe.cluster
	if d := c.answerDelay(); d > 0 {
		time.Sleep(d) // the fault being simulated
	}
	if err := c.notReadyError(); err != nil {
		return nil, err
	}
	defer c.changed()
	var results []*mysql.Result
	// The entrypoints send "a;b" in one query (CREATE USER …;GRANT …).
	for _, q := range splitStatements(query) {
		q = strings.TrimSpace(q)
		if q == "" {
			continue
		}
		c.record(q)
		c.runHooks(q) // placement.go
		c.tick()
		if err := c.refused(q); err != nil {
			return nil, err
		}
		r, err := h.one(q)
		if err != nil {
			return nil, err
		}
		results = append(results, r)
	}
	if len(results) == 0 {
		return nil, mysql.NewError(mysql.ER_EMPTY_QUERY, "Query was empty")
	}
	return results[len(results)-1], nil
}

func (h *handler) one(q string) (*mysql.Result, error) {
	c := h.fe.cluster
	upper := strings.ToUpper(strings.Join(strings.Fields(q), " "))
	switch {
	case upper == "SELECT 1":
		return resultset([]string{"1"}, [][]any{{1}})
	case reVersionComment.MatchString(q):
		// The mysql client's first statement in a terminal; the fake
		// master's heartbeat reads a node's version from it (node.go).
		return resultset([]string{"@@version_comment"}, [][]any{{versionComment(versionOr(h.fe.version))}})
	case upper == "SHOW FRONTENDS":
		return resultset(c.frontendRows(h.fe.host))
	case upper == "SHOW BACKENDS":
		return resultset(c.backendRowsFor(h.fe.host))
	case upper == "SHOW BROKER":
		return resultset(c.brokerRows())
	case upper == "SHOW DATABASES":
		return resultset(c.showDatabases())
	case upper == "SHOW TABLES":
		names, rows, err := c.showTables(h.db)
		if err != nil {
			return nil, err
		}
		return resultset(names, rows)
	case upper == "SELECT DATABASE()":
		var db any
		if h.db != "" {
			db = h.db
		}
		return resultset([]string{"DATABASE()"}, [][]any{{db}})
	case upper == "SHOW ALL GRANTS":
		var rows [][]any
		c.mu.Lock()
		for u := range c.users {
			rows = append(rows, []any{fmt.Sprintf("'%s'@'%%'", u), "", "false", "Node_priv", "", "", "", "", ""})
		}
		c.mu.Unlock()
		return resultset([]string{"UserIdentity", "Comment", "Password", "GlobalPrivs", "CatalogPrivs", "DatabasePrivs",
			"TablePrivs", "ResourcePrivs", "WorkloadGroupPrivs"}, rows)
	case strings.HasPrefix(upper, "GRANT "):
		return &mysql.Result{}, nil
	}
	if m := reSetConfig.FindStringSubmatch(q); m != nil {
		if err := c.setConfig(m[1]); err != nil {
			return nil, dorisError(err)
		}
		return &mysql.Result{}, nil
	}
	if strings.HasPrefix(upper, "ADMIN SET FRONTEND CONFIG") || strings.HasPrefix(upper, "ADMIN SET ALL FRONTENDS CONFIG") {
		return nil, dorisError(errors.New("config parameter size is not equal to 1")) // no ("k" = "v"): setConfig's refusal
	}
	if m := reShowConfig.FindStringSubmatch(q); m != nil {
		return resultset(c.configRows(m[1]+m[2], m[1]+m[2] != "" || strings.Contains(upper, " LIKE ")))
	}
	if m := reProc.FindStringSubmatch(q); m != nil {
		names, rows, err := h.showProc(m[1] + m[2])
		if err != nil {
			return nil, dorisError(err)
		}
		return resultset(names, rows)
	}
	if ok, err := c.alterBroker(q); ok {
		if err != nil {
			return nil, dorisError(err)
		}
		return &mysql.Result{}, nil
	}
	if m := reAlter.FindStringSubmatch(q); m != nil {
		if err := c.alterSystem(strings.ToUpper(m[1]), strings.ToUpper(m[2]), m[3], m[4]); err != nil {
			return nil, dorisError(err)
		}
		return &mysql.Result{}, nil
	}
	if m := reCancel.FindStringSubmatch(q); m != nil {
		if err := c.alterSystem("CANCEL", "BACKEND", m[1], m[2]); err != nil {
			return nil, dorisError(err)
		}
		return &mysql.Result{}, nil
	}
	if r, ok, err := h.ddl(q); ok {
		return r, err
	}
	if m := reCreate.FindStringSubmatch(q); m != nil {
		c.SetPassword(unescape.Replace(m[1]), unescape.Replace(m[2]))
		return &mysql.Result{}, nil
	}
	return nil, mysql.NewError(mysql.ER_PARSE_ERROR, "errCode = 2, detailMessage = Syntax error in line 1: "+q)
}

// dorisError is how a Doris FE reports a failed statement: ERROR 1105
// (HY000) "errCode = 2, detailMessage = …".
func dorisError(err error) error {
	return mysql.NewError(mysql.ER_UNKNOWN_ERROR, "errCode = 2, detailMessage = "+err.Error())
}

// resultset builds a text result set as Doris sends one: a nil cell is
// NULL, an empty string is an empty string (apache/doris
// fe/fe-core/src/main/java/org/apache/doris/qe/StmtExecutor.java
// sendResultSet / sendShowResult: writeNull only for null or "\N"). go-mysql
// would send "" as NULL (its StringToByteSlice("") is a nil slice, which
// BuildSimpleTextResultset writes as 0xfb), which fails a client scanning
// ErrMsg into a string, as the operator does.
func resultset(names []string, rows [][]any) (*mysql.Result, error) {
	if rows == nil {
		rows = [][]any{}
	}
	for _, row := range rows {
		for j, v := range row {
			if s, ok := v.(string); ok && s == "" {
				row[j] = []byte{}
			}
		}
	}
	rs, err := mysql.BuildSimpleTextResultset(names, rows)
	if err != nil {
		return nil, err
	}
	return mysql.NewResult(rs), nil
}

// splitStatements splits on ';' outside quoted strings (with backslash
// escapes), as the server's parser does.
func splitStatements(q string) []string {
	var out []string
	var quote byte
	start := 0
	for i := 0; i < len(q); i++ {
		switch ch := q[i]; {
		case quote != 0 && ch == '\\':
			i++
		case quote != 0 && ch == quote:
			quote = 0
		case quote == 0 && (ch == '\'' || ch == '"' || ch == '`'):
			quote = ch
		case quote == 0 && ch == ';':
			out = append(out, q[start:i])
			start = i + 1
		}
	}
	return append(out, q[start:])
}

// ServeFrontendT lists an alive, joined frontend on host (edit_log_port
// 9010, role FOLLOWER or OBSERVER, master or not) in c and serves c's MySQL
// side as that frontend on host, a free port, until the test ends; it
// returns the address.
func ServeFrontendT(t testing.TB, c *Cluster, host, role string, master bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	c.AddFrontend(Frontend{Host: host, EditLogPort: 9010, QueryPort: ln.Addr().(*net.TCPAddr).Port, Role: role,
		IsMaster: master, Alive: true, Join: true})
	fe := ServeFE(ln, c, host)
	t.Cleanup(func() { fe.Close() })
	return ln.Addr().String()
}

// ServeT serves c's MySQL side as master on a loopback port until the test
// ends, and returns its address.
func ServeT(t testing.TB, c *Cluster, master string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fe := ServeFE(ln, c, master)
	t.Cleanup(func() { fe.Close() })
	return ln.Addr().String()
}
