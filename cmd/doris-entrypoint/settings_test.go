package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// samples are, for every variable of the Settings table, values its parser
// must accept and values it must refuse (none: every string is a value).
// TestEveryVariable fails for a variable without an entry, so a new
// variable is covered as soon as it is declared.
var samples = map[string]struct{ valid, invalid []string }{
	"DORIS_ROOT":                         {[]string{"/opt/apache-doris", "/d"}, nil},
	"DORIS_ENTRYPOINT_STOP_TIMEOUT":      {[]string{"300", "5m", "90s"}, []string{"0", "0s", "-1s", "soon", "5 m"}},
	"DORIS_ENTRYPOINT_LOG_FORMAT":        {[]string{"json", "console"}, []string{"xml", "JSON"}},
	"DORIS_ENTRYPOINT_PODINFO_DIR":       {[]string{"/etc/podinfo"}, nil},
	"DORIS_ENTRYPOINT_DEBUG_PORT_OFFSET": {[]string{"10000", "1"}, []string{"0", "65535", "lots"}},
	"DORIS_ENTRYPOINT_PROBE_ADDR":        {[]string{":8099", "127.0.0.1:9"}, nil},
	"DORIS_ENTRYPOINT_PROBE_INTERVAL":    {[]string{"5", "5s", "1m"}, []string{"0", "0s", "-5s", "abc"}},
	"DORIS_ENTRYPOINT_KUBE":              {[]string{"on", "off", "auto"}, []string{"maybe", "ON"}},
	"POD_NAME":                           {[]string{"doriscluster-sample-fe-0"}, nil},
	"POD_NAMESPACE":                      {[]string{"default"}, nil},
	"FE_QUERY_PORT":                      {[]string{"9030", "1", "65535"}, []string{"0", "70000", "port"}},
	"ENV_FE_ADDR":                        {[]string{"doriscluster-sample-fe-service"}, nil},
	"USER":                               {[]string{"root", "adm_1", "a.b-c"}, []string{"ro'ot", `a"b`, "a b", "admin", "a;drop", strings.Repeat("u", 65)}},
	"PASSWD":                             {[]string{"pw", "p'w\"x"}, nil},
	"POD_FQDN":                           {[]string{"fe-0.fe-internal.default.svc.cluster.local", "fe-0", "10.0.0.1", "fd00::1"}, []string{"fe_0.x", "fe-0..x", "-fe", "a b", "fe'0"}},
	"POD_IP":                             {[]string{"10.0.0.1", "fd00::1"}, []string{"10.0.0.256", "fe-0", "10.0.0.1/24"}},
	"CONFIGMAP_MOUNT_PATH":               {[]string{"/etc/doris"}, nil},
	"DORIS_ENTRYPOINT_CONNECT_TIMEOUT":   {[]string{"2", "2s", "500ms"}, []string{"0", "0s", "-1s", "x"}},
	"DORIS_ENTRYPOINT_QUERY_TIMEOUT":     {[]string{"15", "15s"}, []string{"0", "0s", "-15s", "15x"}},
	"KRB5_MOUNT_PATH":                    {[]string{"/etc/krb5"}, nil},
	"KRB5_CONFIG":                        {[]string{"/etc/krb5.conf"}, nil},
	"KEYTAB_MOUNT_PATH":                  {[]string{"/etc/keytab"}, nil},
	"KEYTAB_FINAL_USED_PATH":             {[]string{"/etc/keytab"}, nil},
	"HOST_TYPE":                          {[]string{"IP", "FQDN", "ip"}, []string{"hostname"}},
	"ENABLE_WORKLOAD_GROUP":              {[]string{"true", "false"}, []string{"yes", "1"}},
	"DORIS_ENTRYPOINT_BROKER_NAME":       {[]string{"broker001", "b-1_x"}, []string{"1broker", "b'x", "b b"}},
	"ELECT_NUMBER":                       {[]string{"3", "1"}, []string{"0", "many"}},
	"DORIS_ENTRYPOINT_NEW_CLUSTER_WAIT":  {[]string{"60", "60s", "2m"}, []string{"0", "0s", "-1m", "soon"}},
	"DORIS_ENTRYPOINT_MASTER_WAIT":       {[]string{"180", "3m"}, []string{"0", "0s", "-3m", "1x"}},
	"DORIS_ENTRYPOINT_UPGRADE_WAIT":      {[]string{"240", "4m", "0", "0s"}, []string{"-1", "-1s", "later"}},
	"DORIS_ENTRYPOINT_DORIS_VERSION":     {[]string{"doris-2.1.5", "doris-2.1.5-rc02-d5a02e095d", "selectdb-3.0.3", "2.1.7"}, []string{"garbage", "doris-2", "doris-2.1.5 rc"}},
}

// load reads the settings of every command (every variable) from getenv.
func load(t *testing.T, getenv lookupEnv) (Settings, error) {
	t.Helper()
	return loadSettings(^scope(0), 0, getenv, nil)
}

// isDuration reports whether v fills a time.Duration field of Settings:
// the duration variables, found from the table itself.
func isDuration(t *testing.T, v variable) bool {
	t.Helper()
	var zero, s Settings
	for _, val := range []string{"5m", "300"} {
		if v.parse(&s, val) != nil {
			return false
		}
	}
	a, b := reflect.ValueOf(zero), reflect.ValueOf(s)
	for i := range a.NumField() {
		if !a.Field(i).Equal(b.Field(i)) && a.Field(i).Type() == reflect.TypeOf(time.Duration(0)) {
			return true
		}
	}
	return false
}

// Every variable of the Settings table: its valid values load, its
// invalid ones are one error naming the variable and quoting the value,
// and empty is the default (or a value, where the table says so).
func TestEveryVariable(t *testing.T) {
	def, err := load(t, env())
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, v := range variables {
		t.Run(v.name, func(t *testing.T) {
			sm, ok := samples[v.name]
			if !ok {
				t.Fatalf("no samples for %s: add its valid and invalid values to the samples table", v.name)
			}
			for _, val := range sm.valid {
				if _, err := load(t, env(v.name, val)); err != nil {
					t.Errorf("%s=%q refused: %v", v.name, val, err)
				}
			}
			for _, val := range sm.invalid {
				_, err := load(t, env(v.name, val))
				if err == nil {
					t.Errorf("%s=%q accepted", v.name, val)
					continue
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, v.name+" ") || !strings.Contains(msg, fmt.Sprintf("%q", val)) || strings.Contains(msg, "\n") {
					t.Errorf("%s=%q: error %q; want one line naming the variable and quoting the value", v.name, val, msg)
				}
			}
			got, err := load(t, env(v.name, ""))
			switch {
			case err != nil:
				t.Errorf("%s empty: %v", v.name, err)
			case !v.emptyIsValue && got != def:
				t.Errorf("%s empty: got %+v, want the defaults %+v", v.name, got, def)
			}
		})
	}
}

// Every duration variable goes through one parser: bare seconds and Go
// durations alike, negative refused, zero only where the variable allows
// it (then "0" and "0s" alike), and one error format.
func TestDurationVariables(t *testing.T) {
	format := regexp.MustCompile(`^[A-Z0-9_]+ "[^"]*": want seconds \(300\) or a Go duration \(5m\), (more than 0|0 or more)`)
	n := 0
	for _, v := range variables {
		if !isDuration(t, v) {
			continue
		}
		n++
		t.Run(v.name, func(t *testing.T) {
			for in, want := range map[string]time.Duration{"300": 300 * time.Second, "5m": 5 * time.Minute, " 90s ": 90 * time.Second, "1h30m": 90 * time.Minute} {
				var s Settings
				if err := v.parse(&s, in); err != nil {
					t.Errorf("%q refused: %v", in, err)
				}
				if !durationSet(s, want) {
					t.Errorf("%q: got %+v, want %s", in, s, want)
				}
			}
			var z0, z0s Settings
			e0, e0s := v.parse(&z0, "0"), v.parse(&z0s, "0s")
			if (e0 == nil) != (e0s == nil) {
				t.Errorf(`"0" and "0s" differ: %v, %v`, e0, e0s)
			}
			for _, bad := range []string{"-1", "-1s", "soon", "5 m", "0", "0s"} {
				_, err := load(t, env(v.name, bad))
				if (bad == "0" || bad == "0s") && e0 == nil {
					continue // a wait the variable may disable
				}
				if err == nil || !format.MatchString(err.Error()) {
					t.Errorf("%q: error %v; want the one duration format", bad, err)
				}
			}
		})
	}
	if n < 6 {
		t.Fatalf("%d duration variables found; want at least 6", n)
	}
}

func durationSet(s Settings, want time.Duration) bool {
	r := reflect.ValueOf(s)
	for i := range r.NumField() {
		if f := r.Field(i); f.Type() == reflect.TypeOf(time.Duration(0)) && time.Duration(f.Int()) == want {
			return true
		}
	}
	return false
}

// The account name from /etc/basic_auth/username follows USER's rule: it is
// refused before anything starts, with the password nowhere in the error.
func TestBasicAuthUsername(t *testing.T) {
	for _, tt := range []struct {
		file string // "": no file
		ok   bool
	}{
		{"", true},
		{"adm\n", true},
		{"ad'm\n", false},
		{"admin", false},
		{"a b", false},
	} {
		dir := t.TempDir()
		if tt.file != "" {
			write(t, filepath.Join(dir, "username"), tt.file)
			write(t, filepath.Join(dir, "password"), "s3cr3t-pw")
		}
		s := Settings{User: "root", Password: "env-pw"}
		err := s.checkAdmin(dir)
		if (err == nil) != tt.ok {
			t.Errorf("username %q: error %v, want ok %v", tt.file, err, tt.ok)
		}
		if err != nil && (strings.Contains(err.Error(), "pw") || !strings.Contains(err.Error(), "username")) {
			t.Errorf("username %q: error %q names the password or not the file", tt.file, err)
		}
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Usage errors of every subcommand exit 2 with usage or one line on stderr,
// before asking anything: a scale-in kind is be, cn or fe, lowercase.
func TestUsageErrorsExit2(t *testing.T) {
	fe := env("ENV_FE_ADDR", "127.0.0.1:1", "DORIS_ENTRYPOINT_CONNECT_TIMEOUT", "100ms", "DORIS_ENTRYPOINT_KUBE", "off")
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"scale-in unknown kind", []string{"scale-in", "xx", "--to", "1"}, `kind "xx": want be, cn or fe`},
		{"scale-in uppercase kind", []string{"scale-in", "BE", "--to", "1"}, `kind "BE": want be, cn or fe`},
		{"scale-in mixed-case kind", []string{"scale-in", "Cn", "--to", "1"}, `kind "Cn"`},
		{"scale-in no kind", []string{"scale-in", "--to", "1"}, "Usage: doris-entrypoint scale-in"},
		{"scale-in kind after flags", []string{"scale-in", "--to", "1", "be"}, "Usage: doris-entrypoint scale-in"},
		{"scale-in no --to", []string{"scale-in", "be"}, "Usage: doris-entrypoint scale-in"},
		{"scale-in negative timeout", []string{"scale-in", "be", "--to", "1", "--timeout", "-1s"}, `"-1s": want seconds (300) or a Go duration (5m), more than 0`},
		{"scale-in cancel of a cn", []string{"scale-in", "cn", "--to", "1", "--cancel"}, "--cancel"},
		{"upgrade uppercase", []string{"upgrade", "CHECK"}, "Usage: doris-entrypoint upgrade"},
		{"upgrade bad --to", []string{"upgrade", "check", "--to", "garbage"}, "--to"},
		{"probe uppercase", []string{"probe", "LIVE"}, "Usage: doris-entrypoint probe"},
		{"probe negative wait", []string{"probe", "ready", "--wait", "-1s"}, `"-1s": want seconds (300) or a Go duration (5m), 0 or more`},
		{"probe extra", []string{"probe", "live", "ready"}, "Usage: doris-entrypoint probe"},
		{"is-alive not a port", []string{"is-alive", "abc"}, "Usage: doris-entrypoint is-alive"},
		{"status extra", []string{"status", "now"}, "Usage: doris-entrypoint status"},
		{"debug uppercase", []string{"debug", "RUN"}, "Usage: doris-entrypoint debug run"},
		{"prestop extra", []string{"prestop", "now"}, "Usage: doris-entrypoint prestop"},
		{"supervise bad flag", []string{"supervise", "--bogus", "true"}, "flag provided but not defined"},
		{"version extra", []string{"version", "now"}, "Usage: doris-entrypoint version"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"doris-entrypoint"}, tt.args...), fe, &out, &errb)
			if code != exitUsage || !strings.Contains(errb.String(), tt.want) {
				t.Fatalf("code %d, want 2 with %q on stderr\nstdout: %s\nstderr: %s", code, tt.want, out.String(), errb.String())
			}
		})
	}
}
