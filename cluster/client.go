// The Doris client: SHOW FRONTENDS / SHOW BACKENDS read by column name
// (IsMaster moved from the 8th to the 9th column between 2.0 and 2.1), the
// ALTER SYSTEM statements, over go-sql-driver/mysql with a timeout on every
// connection and query. Credentials: root without a password first, then
// the admin account on error 1045, and from then on the account that
// logged in last first; a password never appears in an error or a log.

package cluster

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Defaults of Client's timeouts (the scripts' mysql --connect-timeout 2 and
// timeout 15).
const (
	DefaultConnectTimeout = 2 * time.Second
	DefaultQueryTimeout   = 15 * time.Second
)

// Client talks to FEs.
type Client struct {
	// Admin is tried when root without a password is refused (1045).
	Admin          Credentials
	ConnectTimeout time.Duration
	QueryTimeout   time.Duration

	// adminFirst: the admin is the account that logged in last, so it is
	// tried first. A Client lives as long as its node and asks every round:
	// trying root first each time would fail a login every round, forever,
	// when root has a password (an audit-log flood and a lockout risk).
	adminFirst atomic.Bool
}

// Frontend is a row of SHOW FRONTENDS.
type Frontend struct {
	Host                             string
	EditLogPort, QueryPort, HTTPPort int
	Role                             string
	IsMaster, Alive, Join, Connected bool
}

// Backend is a row of SHOW BACKENDS.
type Backend struct {
	ID                      string // BackendId
	Host                    string
	HeartbeatPort, HTTPPort int
	Alive                   bool
	NodeRole                string // mix, or computation (a CN)
	Decommissioned          bool   // SystemDecommissioned
	TabletNum               int
	Location                string // the Tag column's location ("default"); "": unreadable
}

// ErrAccessDenied wraps a 1045 refusal with every credential tried.
var ErrAccessDenied = errors.New("access denied")

// ValidateHost accepts an IPv4 or IPv6 literal or an RFC 1123 host name.
func ValidateHost(h string) error {
	if net.ParseIP(h) != nil {
		return nil
	}
	if h == "" || len(h) > 253 {
		return fmt.Errorf("invalid host name %q: empty or longer than 253", h)
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("invalid host name %q", h)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("invalid host name %q", h)
			}
		}
	}
	return nil
}

// HostPort validates host and port and joins them for SQL ("host:port",
// IPv6 in brackets).
func HostPort(host string, port int) (string, error) {
	if err := ValidateHost(host); err != nil {
		return "", err
	}
	if port < 1 || port > 65535 {
		return "", fmt.Errorf("invalid port %d", port)
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

func (c *Client) timeouts() (time.Duration, time.Duration) {
	ct, qt := c.ConnectTimeout, c.QueryTimeout
	if ct <= 0 {
		ct = DefaultConnectTimeout
	}
	if qt <= 0 {
		qt = DefaultQueryTimeout
	}
	return ct, qt
}

// exec runs q on addr, as root without a password and as Admin — the one
// that logged in last first, the other after a 1045 — and returns the
// column names and rows (all as strings).
func (c *Client) exec(ctx context.Context, addr, q string) ([]string, [][]string, error) {
	res, err := c.execAll(ctx, addr, q)
	if err != nil {
		return nil, nil, err
	}
	return res[0].cols, res[0].rows, nil
}

// execAll is exec of several statements on one connection.
func (c *Client) execAll(ctx context.Context, addr string, qs ...string) ([]result, error) {
	creds := []Credentials{{User: "root"}}
	admin := c.Admin.User != "" && c.Admin != (Credentials{User: "root"})
	if admin {
		creds = append(creds, c.Admin)
		if c.adminFirst.Load() {
			creds[0], creds[1] = creds[1], creds[0]
		}
	}
	var denied []string
	for _, cr := range creds {
		res, loggedIn, err := c.queriesPastNotReady(ctx, addr, cr, qs...)
		if loggedIn && admin {
			c.adminFirst.Store(cr == c.Admin)
		}
		var me *mysql.MySQLError
		if errors.As(err, &me) && me.Number == 1045 {
			denied = append(denied, cr.User)
			continue
		}
		return res, err
	}
	return nil, fmt.Errorf("%s: %w for %s", addr, ErrAccessDenied, strings.Join(denied, ", then "))
}

// Answered says err came from the FE itself (an error packet, access
// denied), rather than from failing to reach it.
func Answered(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) || errors.Is(err, ErrAccessDenied)
}

// NotReady says err is Doris' answer of an FE whose catalog is not ready
// (it has not replayed the journal yet, or lost its master): ERROR 1105
// "errCode = 2, detailMessage = Node catalog is not ready, please wait for a
// while." (apache/doris fe/fe-core/src/main/java/org/apache/doris/qe/MasterOpExecutor.java
// forward, as ConnectProcessor reports it). That FE will answer the same on
// that connection; another connection through a Service may reach another.
func NotReady(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1105 && strings.Contains(me.Message, "Node catalog is not ready")
}

// quietDriver keeps the driver's own stderr logger (a global of
// go-sql-driver) quiet: every error is returned to the caller, which logs it
// once, in its own format.
var quietDriver sync.Once

// execAs runs q on addr as cr.
func (c *Client) execAs(ctx context.Context, addr string, cr Credentials, q string) ([]string, [][]string, error) {
	cols, rows, _, err := c.query(ctx, addr, cr, q)
	return cols, rows, err
}

// query runs q on addr as cr; loggedIn says the FE accepted the account,
// whatever became of q.
func (c *Client) query(ctx context.Context, addr string, cr Credentials, q string) (cols []string, out [][]string, loggedIn bool, err error) {
	res, loggedIn, err := c.queriesPastNotReady(ctx, addr, cr, q)
	if err != nil {
		return nil, nil, loggedIn, err
	}
	return res[0].cols, res[0].rows, true, nil
}

// notReadyConns is how many connections queriesPastNotReady opens at
// most: through a Service over 3 FEs of which 2 are not ready, each
// reaches the ready one with 1/3 at least, so 8 miss all with 4%.
const notReadyConns = 8

// queriesPastNotReady is queries, asked again on a new connection (a new
// sql.DB: never a pooled one) while the FE answers "not ready": that FE
// answers so on that connection until its replay is done, and a Service
// may route a new connection to another FE. A not-ready FE ran none of qs
// (Doris refuses before it forwards), so they are sent again from the first.
func (c *Client) queriesPastNotReady(ctx context.Context, addr string, cr Credentials, qs ...string) ([]result, bool, error) {
	for n := 1; ; n++ {
		res, loggedIn, err := c.queries(ctx, addr, cr, qs...)
		if !NotReady(err) || n >= notReadyConns || ctx.Err() != nil {
			return res, loggedIn, err
		}
	}
}

// result is one statement's answer.
type result struct {
	cols []string
	rows [][]string
}

// queries runs qs in order on one connection to addr as cr (one FE answers
// them all: SHOW FRONTENDS' CurrentConnected then tells which); it stops at
// the first error.
func (c *Client) queries(ctx context.Context, addr string, cr Credentials, qs ...string) (out []result, loggedIn bool, err error) {
	quietDriver.Do(func() { mysql.SetLogger(&mysql.NopLogger{}) })
	ct, qt := c.timeouts()
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.Passwd = "tcp", addr, cr.User, cr.Password
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = ct, qt, qt
	cfg.AllowNativePasswords = true
	cfg.DialFunc = dial // marks "nobody accepted" (Reached)
	cfg.MultiStatements = true
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, false, err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, ct+time.Duration(len(qs))*qt)
	defer cancel()
	// The connection first (its handshake is the login), then the queries.
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, false, err
	}
	defer conn.Close()
	for _, q := range qs {
		r, err := readRows(ctx, conn, q)
		if err != nil {
			return nil, true, err
		}
		out = append(out, r)
	}
	return out, true, nil
}

// readRows runs q on conn and reads every row as strings (NULL as "").
func readRows(ctx context.Context, conn *sql.Conn, q string) (result, error) {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return result{}, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return result{}, err
	}
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return result{}, err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
		}
		out = append(out, row)
	}
	return result{cols, out}, rows.Err()
}

// table indexes rows by column name.
type table struct {
	idx  map[string]int
	rows [][]string
}

func newTable(cols []string, rows [][]string) table {
	t := table{idx: map[string]int{}, rows: rows}
	for i, c := range cols {
		t.idx[c] = i
	}
	return t
}

func (t table) has(col string) bool { _, ok := t.idx[col]; return ok }

func (t table) get(row []string, col string) string {
	if i, ok := t.idx[col]; ok && i < len(row) {
		return row[i]
	}
	return ""
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// ShowFrontends returns SHOW FRONTENDS as seen by the FE at addr.
func (c *Client) ShowFrontends(ctx context.Context, addr string) ([]Frontend, error) {
	cols, rows, err := c.exec(ctx, addr, "SHOW FRONTENDS")
	if err != nil {
		return nil, fmt.Errorf("show frontends on %s: %w", addr, err)
	}
	t := newTable(cols, rows)
	if !t.has("IsMaster") || !t.has("Host") {
		return nil, fmt.Errorf("show frontends on %s: no IsMaster/Host column in %q", addr, cols)
	}
	var out []Frontend
	for _, r := range rows {
		out = append(out, Frontend{
			Host: t.get(r, "Host"), EditLogPort: atoi(t.get(r, "EditLogPort")), QueryPort: atoi(t.get(r, "QueryPort")),
			HTTPPort: atoi(t.get(r, "HttpPort")), Role: t.get(r, "Role"),
			IsMaster: t.get(r, "IsMaster") == "true", Alive: t.get(r, "Alive") == "true", Join: t.get(r, "Join") == "true",
			Connected: t.get(r, "CurrentConnected") == "Yes",
		})
	}
	return out, nil
}

// Master returns the master among fes.
func Master(fes []Frontend) (Frontend, bool) {
	for _, fe := range fes {
		if fe.IsMaster {
			return fe, true
		}
	}
	return Frontend{}, false
}

// ShowBackends returns SHOW BACKENDS as seen by the FE at addr.
func (c *Client) ShowBackends(ctx context.Context, addr string) ([]Backend, error) {
	cols, rows, err := c.exec(ctx, addr, "SHOW BACKENDS")
	if err != nil {
		return nil, fmt.Errorf("show backends on %s: %w", addr, err)
	}
	return parseBackends(cols, rows), nil
}

// parseBackends reads SHOW BACKENDS by column name.
func parseBackends(cols []string, rows [][]string) []Backend {
	t := newTable(cols, rows)
	var out []Backend
	for _, r := range rows {
		out = append(out, Backend{ID: t.get(r, "BackendId"), Host: t.get(r, "Host"), HeartbeatPort: atoi(t.get(r, "HeartbeatPort")),
			HTTPPort: atoi(t.get(r, "HttpPort")), Alive: t.get(r, "Alive") == "true", NodeRole: t.get(r, "NodeRole"),
			Decommissioned: t.get(r, "SystemDecommissioned") == "true", TabletNum: atoi(t.get(r, "TabletNum")),
			Location: tagLocation(t.get(r, "Tag"))})
	}
	return out
}

// tagLocation is the location tag of a SHOW BACKENDS Tag cell, which
// Backend.getTagMapString prints as a JSON object ({"location" : "default"};
// apache/doris fe/fe-core/src/main/java/org/apache/doris/system/Backend.java);
// "" when it cannot be read.
func tagLocation(tag string) string {
	var m map[string]any
	if json.Unmarshal([]byte(tag), &m) != nil {
		return ""
	}
	s, _ := m["location"].(string)
	return s
}

// AddFrontend sends ALTER SYSTEM ADD FOLLOWER|OBSERVER "host:port".
func (c *Client) AddFrontend(ctx context.Context, addr string, follower bool, host string, editLogPort int) error {
	hp, err := HostPort(host, editLogPort)
	if err != nil {
		return err
	}
	role := "OBSERVER"
	if follower {
		role = "FOLLOWER"
	}
	_, _, err = c.exec(ctx, addr, fmt.Sprintf(`ALTER SYSTEM ADD %s "%s"`, role, hp))
	return err
}

// AddBackend sends ALTER SYSTEM ADD BACKEND "host:port".
func (c *Client) AddBackend(ctx context.Context, addr, host string, heartbeatPort int) error {
	hp, err := HostPort(host, heartbeatPort)
	if err != nil {
		return err
	}
	_, _, err = c.exec(ctx, addr, fmt.Sprintf(`ALTER SYSTEM ADD BACKEND "%s"`, hp))
	return err
}

// EnableBackend re-enables query and load on a backend, as the newest
// be_entrypoint.sh does after a restart.
func (c *Client) EnableBackend(ctx context.Context, addr, host string, heartbeatPort int) error {
	hp, err := HostPort(host, heartbeatPort)
	if err != nil {
		return err
	}
	_, _, err = c.exec(ctx, addr, fmt.Sprintf(`ALTER SYSTEM MODIFY BACKEND "%s" SET ("disable_query" = "false", "disable_load" = "false")`, hp))
	return err
}

// EnsureAdmin creates the admin account with NODE_PRIV on the FE at addr,
// once, as the entrypoints do: nothing without a password, nothing when root
// has a password (1045), nothing when the account exists. An error never
// carries the password (the server's message may quote the statement, so
// only its number is kept).
func (c *Client) EnsureAdmin(ctx context.Context, addr string, admin Credentials) (created bool, err error) {
	if admin.Password == "" || admin.User == "root" {
		return false, nil
	}
	if err := validUser(admin.User); err != nil {
		return false, err
	}
	cols, rows, err := c.execAs(ctx, addr, Credentials{User: "root"}, "SHOW ALL GRANTS")
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1045 {
		return false, nil // root has a password: accounts are someone else's business
	}
	if err != nil {
		return false, fmt.Errorf("show all grants on %s: %w", addr, err)
	}
	t := newTable(cols, rows)
	for _, r := range rows {
		ident := t.get(r, "UserIdentity")
		if ident == "'"+admin.User+"'@'%'" || strings.HasPrefix(ident, "'"+admin.User+"'@") {
			return false, nil
		}
	}
	q := fmt.Sprintf("CREATE USER %s IDENTIFIED BY %s;GRANT NODE_PRIV ON *.*.* TO %s", quote(admin.User), quote(admin.Password), quote(admin.User))
	if _, _, err := c.execAs(ctx, addr, Credentials{User: "root"}, q); err != nil {
		if errors.As(err, &me) {
			return false, fmt.Errorf("create admin user %s on %s: MySQL error %d", admin.User, addr, me.Number)
		}
		return false, fmt.Errorf("create admin user %s on %s: connection failed", admin.User, addr)
	}
	return true, nil
}
