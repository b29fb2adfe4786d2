package main

import (
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
)

// Settings is every setting of the program. Each comes from one
// environment variable, declared once in [variables] with its default, its
// documentation and its parser; a flag of the same meaning overrides it.
// Kubernetes configures containers through the environment, and the
// operator's own variables keep their names.
type Settings struct {
	DorisRoot, LogFormat, PodinfoDir string
	StopTimeout, ProbeInterval       time.Duration
	DebugOffset                      int
	ProbeAddr                        string // "" disables the endpoint
	Kube, PodName, PodNamespace      string // Kube: on, off, auto

	ConnectTimeout, QueryTimeout time.Duration
	FEQueryPort, ElectNumber     int
	User, Password               string // the password is never logged
	PodFQDN, PodIP               string
	IPMode, WorkloadGroup        bool // HOST_TYPE=IP, ENABLE_WORKLOAD_GROUP=true
	BrokerName                   string
	NewClusterWait, MasterWait   time.Duration
	UpgradeWait                  time.Duration // the upgrade order's bound; 0: no wait
	DorisVersion                 string        // this node's Doris version, when the image cannot tell it

	ConfigMapPath, Krb5Mount, Krb5Config, KeytabMount, KeytabFinal string
	FEAddr                                                         string // ENV_FE_ADDR, for scale-in
}

// scope is the set of commands that read a variable.
type scope uint

const (
	inFE scope = 1 << iota
	inBE
	inSupervise
	inPrestop
	inStatus
	inProbe
	inDebug
	inDorisDebug
	inScaleIn
	inUpgrade
	inBroker

	inComponents = inFE | inBE | inBroker
)

// variable is one environment variable: the single place that names it,
// documents it (--help; the README table is checked against this list) and
// parses it.
type variable struct {
	name string
	flag string // the command-line flag that overrides it, for fe, be and supervise
	// def is parsed when the variable is unset or empty; "" leaves the
	// Settings field at the value the command gives it (defDoc says which).
	def    string
	defDoc string // the default as --help and the README show it; "" = def
	doc    string
	scope  scope
	// emptyIsValue: set but empty is a value (PASSWD, the probe address),
	// not the default.
	emptyIsValue bool
	parse        func(s *Settings, v string) error
}

// envStopTimeout's default depends on the command; envDebugOffset is only
// the first offset debug mode tries when it is entered (supervisor/modes
// offset.go): it never stops a start.
const envStopTimeout, envDebugOffset = "DORIS_ENTRYPOINT_STOP_TIMEOUT", "DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET"

// variables are all the variables the program reads, in --help order.
var variables = []variable{
	{name: "DORIS_ROOT", flag: "doris-root", def: "/opt/apache-doris", scope: inComponents | inPrestop | inStatus | inDebug | inDorisDebug,
		doc: "Doris install root (fe/, be/ below it); the child's working directory", parse: setString(func(s *Settings) *string { return &s.DorisRoot })},
	{name: envStopTimeout, flag: "stop-timeout", defDoc: "fe/be/broker: grace_shutdown_wait_seconds less a tenth (10-30 s), else fe 300s, be 180s, broker 20s; supervise 30s", scope: inComponents | inSupervise | inPrestop,
		doc:   "graceful stop budget from SIGTERM to SIGKILL: seconds (300) or a Go duration (5m)",
		parse: setDuration(func(s *Settings) *time.Duration { return &s.StopTimeout }, false)},
	{name: "DORIS_ENTRYPOINT_LOG_FORMAT", flag: "log-format", def: "json", scope: inComponents | inSupervise,
		doc: "log format on stderr: json or console", parse: setLogFormat},
	{name: "DORIS_ENTRYPOINT_PODINFO_DIR", def: "/etc/podinfo", scope: inComponents | inDorisDebug,
		doc: "downward-API volume whose annotations file sets the run mode", parse: setString(func(s *Settings) *string { return &s.PodinfoDir })},
	{name: envDebugOffset, def: "10000", scope: inComponents,
		doc: "how far debug mode moves the FE query/http, BE heartbeat/webserver and broker ipc ports", parse: setInt(func(s *Settings) *int { return &s.DebugOffset }, 1, 65534)},
	{name: "DORIS_ENTRYPOINT_PROBE_ADDR", def: ":8099", scope: inComponents | inProbe | inStatus, emptyIsValue: true,
		doc: "probe endpoint (/livez /readyz /startupz /status /metrics); empty disables it", parse: setString(func(s *Settings) *string { return &s.ProbeAddr })},
	{name: "DORIS_ENTRYPOINT_PROBE_INTERVAL", def: "5s", scope: inComponents,
		doc: "how often the endpoint's background checks ask the component and the FE", parse: setDuration(func(s *Settings) *time.Duration { return &s.ProbeInterval }, false)},
	{name: "DORIS_ENTRYPOINT_KUBE", def: "auto", scope: inComponents | inUpgrade | inScaleIn,
		doc: "watch the own pod and record Events through the API: on, off, or auto (when a service-account token is mounted)",
		parse: func(s *Settings, v string) error {
			switch v {
			case "on", "off", "auto":
				s.Kube = v
				return nil
			}
			return fmt.Errorf("%q: want on, off or auto", v)
		}},
	{name: "POD_NAME", scope: inComponents | inUpgrade | inScaleIn, doc: "operator: this pod's name, for the pod watch and its Events",
		parse: setString(func(s *Settings) *string { return &s.PodName })},
	{name: "POD_NAMESPACE", scope: inComponents | inUpgrade | inScaleIn, doc: "operator: this pod's namespace",
		parse: setString(func(s *Settings) *string { return &s.PodNamespace })},
	{name: "FE_QUERY_PORT", def: "9030", scope: inComponents | inUpgrade | inScaleIn, doc: "query port of the FE addresses given as FE_ADDRS (operator)",
		parse: setInt(func(s *Settings) *int { return &s.FEQueryPort }, 1, 65535)},
	{name: "ENV_FE_ADDR", scope: inScaleIn | inUpgrade, doc: "operator: the FE service address (the FE_ADDRS argument of the entrypoints); scale-in and upgrade ask it",
		parse: setString(func(s *Settings) *string { return &s.FEAddr })},
	{name: "USER", def: "root", scope: inComponents | inUpgrade | inScaleIn, doc: "admin account tried after root is refused (operator): letters, digits, _ - . (at most 64, not admin); /etc/basic_auth/username overrides, same rule",
		parse: func(s *Settings, v string) error {
			if cluster.ValidateUser(v) != nil {
				return fmt.Errorf("%q: %s", v, wantUser)
			}
			s.User = v
			return nil
		}},
	{name: "PASSWD", scope: inComponents | inUpgrade | inScaleIn, emptyIsValue: true, doc: "its password (operator; never logged); /etc/basic_auth/password overrides",
		parse: setString(func(s *Settings) *string { return &s.Password })},
	{name: "POD_FQDN", defDoc: "hostname -f", scope: inComponents, doc: "this pod's FQDN as the cluster knows it (an RFC 1123 name or an IP address)",
		parse: func(s *Settings, v string) error {
			if cluster.ValidateHost(v) != nil {
				return fmt.Errorf("%q: want an RFC 1123 host name (dot-separated labels of letters, digits and '-', at most 253) or an IP address", v)
			}
			s.PodFQDN = v
			return nil
		}},
	{name: "POD_IP", defDoc: "host address", scope: inComponents, doc: "this pod's IP (IP mode)",
		parse: func(s *Settings, v string) error {
			if net.ParseIP(v) == nil {
				return fmt.Errorf("%q: want an IPv4 or IPv6 address", v)
			}
			s.PodIP = v
			return nil
		}},
	{name: "CONFIGMAP_MOUNT_PATH", def: "/etc/doris", scope: inComponents,
		doc:   "operator: ConfigMap files linked (be.conf: copied) into the conf dir at start, the old ones kept as .bak",
		parse: setString(func(s *Settings) *string { return &s.ConfigMapPath })},
	{name: "DORIS_ENTRYPOINT_CONNECT_TIMEOUT", def: "2s", scope: inComponents | inUpgrade | inScaleIn, doc: "timeout of each connection to an FE",
		parse: setDuration(func(s *Settings) *time.Duration { return &s.ConnectTimeout }, false)},
	{name: "DORIS_ENTRYPOINT_QUERY_TIMEOUT", def: "15s", scope: inComponents | inUpgrade | inScaleIn, doc: "timeout of each query to an FE",
		parse: setDuration(func(s *Settings) *time.Duration { return &s.QueryTimeout }, false)},
	{name: "KRB5_MOUNT_PATH", scope: inComponents, doc: "operator: when set, its files are linked into dirname $KRB5_CONFIG at start",
		parse: setString(func(s *Settings) *string { return &s.Krb5Mount })},
	{name: "KRB5_CONFIG", def: "/etc/krb5.conf", scope: inComponents, doc: "operator: where Kerberos reads its configuration",
		parse: setString(func(s *Settings) *string { return &s.Krb5Config })},
	{name: "KEYTAB_MOUNT_PATH", scope: inComponents, doc: "operator: mounted keytabs, linked into KEYTAB_FINAL_USED_PATH when that differs",
		parse: setString(func(s *Settings) *string { return &s.KeytabMount })},
	{name: "KEYTAB_FINAL_USED_PATH", scope: inComponents, doc: "operator: where the keytabs are expected",
		parse: setString(func(s *Settings) *string { return &s.KeytabFinal })},
	{name: "HOST_TYPE", def: "FQDN", scope: inBE | inBroker, doc: "BE/CN, broker: IP registers POD_IP instead of the FQDN",
		parse: func(s *Settings, v string) error {
			switch {
			case strings.EqualFold(v, "IP"):
				s.IPMode = true
			case strings.EqualFold(v, "FQDN"):
				s.IPMode = false
			default:
				return fmt.Errorf("%q: want IP or FQDN", v)
			}
			return nil
		}},
	{name: "ENABLE_WORKLOAD_GROUP", def: "false", scope: inBE,
		doc: "operator, BE: true prepares /sys/fs/cgroup/cpu/doris and sets doris_cgroup_cpu_path in be.conf",
		parse: func(s *Settings, v string) error {
			switch v {
			case "true", "false":
				s.WorkloadGroup = v == "true"
				return nil
			}
			return fmt.Errorf("%q: want true or false", v)
		}},
	{name: "DORIS_ENTRYPOINT_BROKER_NAME", def: "broker001", scope: inBroker,
		doc:   "broker: the name it registers under (ALTER SYSTEM ADD BROKER); a letter, then up to 63 letters, digits, _ or -",
		parse: func(s *Settings, v string) error { s.BrokerName = v; return cluster.ValidateBrokerName(v) }},
	{name: "ELECT_NUMBER", def: "3", scope: inFE, doc: "operator: FEs with an ordinal below it join as FOLLOWER, the others as OBSERVER",
		parse: setInt(func(s *Settings) *int { return &s.ElectNumber }, 1, 1<<30)},
	{name: "DORIS_ENTRYPOINT_NEW_CLUSTER_WAIT", def: "60s", scope: inFE,
		doc:   "FE ordinal 0: how long no FE may answer at all before it bootstraps a new cluster",
		parse: setDuration(func(s *Settings) *time.Duration { return &s.NewClusterWait }, false)},
	{name: "DORIS_ENTRYPOINT_MASTER_WAIT", def: "180s", scope: inFE, doc: "FE first start: how long to wait for a master before failing",
		parse: setDuration(func(s *Settings) *time.Duration { return &s.MasterWait }, false)},
	{name: "DORIS_ENTRYPOINT_UPGRADE_WAIT", def: "240s", scope: inFE,
		doc:   "FE: how long it waits to start while some BE/CN still runs an older line (upgrade BE/CN first); 0 (or 0s): no wait, a Warning only",
		parse: setDuration(func(s *Settings) *time.Duration { return &s.UpgradeWait }, true)},
	{name: "DORIS_ENTRYPOINT_DORIS_VERSION", defDoc: "from the image", scope: inComponents,
		doc: "this node's Doris version (e.g. doris-2.1.5), for an image whose fe/lib/doris-fe.jar or be/lib/doris_be does not tell it",
		parse: func(s *Settings, v string) error {
			if _, err := cluster.ParseVersion(v); err != nil {
				return fmt.Errorf("%q: want a Doris version such as doris-2.1.5 or doris-2.1.5-rc02-d5a02e095d", v)
			}
			s.DorisVersion = v
			return nil
		}},
}

func setString(field func(*Settings) *string) func(*Settings, string) error {
	return func(s *Settings, v string) error { *field(s) = v; return nil }
}

func setInt(field func(*Settings) *int, lo, hi int) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("%q: want a number in %d..%d", v, lo, hi)
		}
		*field(s) = n
		return nil
	}
}

// setDuration is the parser of every duration variable (parseDuration);
// zeroOK: 0 is a value (a wait it disables).
func setDuration(field func(*Settings) *time.Duration, zeroOK bool) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		d, err := parseDuration(v, zeroOK)
		if err != nil {
			return err
		}
		*field(s) = d
		return nil
	}
}

// parseDuration reads a duration setting: whole seconds ("300") or a Go
// duration ("5m", "90s", "0s"); never negative, zero only when zeroOK. The
// error quotes v and says what the variable wants, the same for all.
func parseDuration(v string, zeroOK bool) (time.Duration, error) {
	t := strings.TrimSpace(v)
	d, err := time.ParseDuration(t)
	if n, nerr := strconv.ParseUint(t, 10, 32); nerr == nil {
		d, err = time.Duration(n)*time.Second, nil
	}
	if err != nil || d < 0 || d == 0 && !zeroOK {
		want := "more than 0"
		if zeroOK {
			want = "0 or more"
		}
		return 0, fmt.Errorf("%q: want seconds (300) or a Go duration (5m), %s", v, want)
	}
	return d, nil
}

// durationFlag is a duration flag read by parseDuration, as the variables
// are: "300" and "5m" alike.
type durationFlag struct {
	d      *time.Duration
	zeroOK bool
}

// durationVar defines the duration flag name on fs, with default def.
func durationVar(fs *flag.FlagSet, name string, def time.Duration, zeroOK bool, usage string) *time.Duration {
	d := def
	fs.Var(durationFlag{&d, zeroOK}, name, usage)
	return &d
}

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f durationFlag) Set(v string) error {
	d, err := parseDuration(v, f.zeroOK)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

// wantUser is the rule of an admin account name, for USER and
// /etc/basic_auth/username alike (cluster.ValidateUser).
const wantUser = "want an account name of 1 to 64 letters, digits, '_', '-' or '.', not admin"

func setLogFormat(s *Settings, v string) error {
	if v != "json" && v != "console" {
		return fmt.Errorf("log format %q: want json or console", v)
	}
	s.LogFormat = v
	return nil
}

// varsOf are the variables command sc reads.
func varsOf(sc scope) []variable {
	var out []variable
	for _, v := range variables {
		if v.scope&sc != 0 {
			out = append(out, v)
		}
	}
	return out
}

// flagValues are the flags of a command's variables, by variable name.
type flagValues map[string]*string

// loadSettings reads the variables of sc, after the defaults, and the flags
// over them; stopTimeout is the command's default stop budget. The error
// names the variable or the flag.
func loadSettings(sc scope, stopTimeout time.Duration, getenv lookupEnv, flags flagValues) (Settings, error) {
	s := Settings{StopTimeout: stopTimeout}
	for _, v := range varsOf(sc) {
		val, ok := getenv(v.name)
		if !ok || val == "" && !v.emptyIsValue {
			val = v.def
		}
		if val != "" || ok && v.emptyIsValue {
			if err := v.parse(&s, val); err != nil {
				return s, fmt.Errorf("%s %w", v.name, err)
			}
		}
		if f := flags[v.name]; f != nil && *f != "" {
			if err := v.parse(&s, *f); err != nil {
				return s, fmt.Errorf("--%s: %w", v.flag, err)
			}
		}
	}
	return s, nil
}
