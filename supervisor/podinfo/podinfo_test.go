package podinfo_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/doris-entrypoint/supervisor/podinfo"
	"github.com/apache/doris-entrypoint/supervisor/podinfo/podinfotest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		badLine []int
	}{
		{"kubelet format", `apache.doris.fe/restartedAt="2024-08-22T07:29:55Z"` + "\n" + `selectdb.com.doris/runmode="debug"`,
			map[string]string{"apache.doris.fe/restartedAt": "2024-08-22T07:29:55Z", "selectdb.com.doris/runmode": "debug"}, nil},
		{"escapes and = in value", `a="x=\"y\"\n\tz\\"` + "\n" + `b="日本\x00"`,
			map[string]string{"a": "x=\"y\"\n\tz\\", "b": "日本\x00"}, nil},
		{"shell is never run", `selectdb.com.doris/runmode="$(touch /pwned)"` + "\n" + "x=\"`id`\"",
			map[string]string{"selectdb.com.doris/runmode": "$(touch /pwned)", "x": "`id`"}, nil},
		{"CRLF and blank lines", "a=\"1\"\r\n\r\nb=\"2\"\n", map[string]string{"a": "1", "b": "2"}, nil},
		{"malformed lines skipped, rest counts", "junk\nselectdb.com.doris/runmode=debug\n=\"x\"\nok=\"1\"\nbad=\"unterminated",
			map[string]string{"ok": "1"}, []int{1, 2, 3, 5}},
		{"empty file", "", map[string]string{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := podinfo.Parse([]byte(tt.in))
			if len(got) != len(tt.want) {
				t.Fatalf("Parse = %q, want %q", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if len(errs) != len(tt.badLine) {
				t.Fatalf("errors %v, want lines %v", errs, tt.badLine)
			}
			for i, e := range errs {
				if le := e.(*podinfo.LineError); le.Line != tt.badLine[i] {
					t.Errorf("error %d on line %d, want %d", i, le.Line, tt.badLine[i])
				}
			}
		})
	}
}

func TestModeOf(t *testing.T) {
	tests := []struct {
		name       string
		ann        map[string]string
		want       podinfo.Mode
		key        string
		unexpected bool
	}{
		{"selectdb key", map[string]string{"selectdb.com.doris/runmode": "debug"}, podinfo.Debug, "selectdb.com.doris/runmode", false},
		{"apache.org key, value in any case", map[string]string{"apache.org.doris/runmode": " DeBuG "}, podinfo.Debug, "apache.org.doris/runmode", false},
		{"apache.com key (operator 25.6-25.7, the Doris website)", map[string]string{"apache.com.doris/runmode": "debug"}, podinfo.Debug, "apache.com.doris/runmode", false},
		{"key in any case", map[string]string{"apache.com.doris/RunMode": "Debug"}, podinfo.Debug, "apache.com.doris/RunMode", false},
		{"one key says debug", map[string]string{"selectdb.com.doris/runmode": "normal", "apache.org.doris/runmode": "debug"}, podinfo.Debug, "apache.org.doris/runmode", false},
		{"all three: the first key names it", map[string]string{"apache.com.doris/runmode": "debug", "apache.org.doris/runmode": "debug", "selectdb.com.doris/runmode": "debug"},
			podinfo.Debug, "selectdb.com.doris/runmode", false},
		{"unexpected value", map[string]string{"selectdb.com.doris/runmode": "true"}, podinfo.Normal, "", true},
		{"unexpected value, third key", map[string]string{"apache.com.doris/runmode": "yes"}, podinfo.Normal, "", true},
		{"empty value", map[string]string{"selectdb.com.doris/runmode": ""}, podinfo.Normal, "", false},
		{"other domain", map[string]string{"apache.net.doris/runmode": "debug", "runmode": "debug"}, podinfo.Normal, "", false},
		{"none", nil, podinfo.Normal, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mode, key, unexpected := podinfo.ModeOf(tt.ann)
			if mode != tt.want || key != tt.key || (unexpected != "") != tt.unexpected {
				t.Errorf("ModeOf(%q) = %v, %q, %q; want %v, %q, unexpected %v", tt.ann, mode, key, unexpected, tt.want, tt.key, tt.unexpected)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`a="b"` + "\n" + `selectdb.com.doris/runmode="debug"`))
	f.Add([]byte("x=\"\\xff\\u00e9\"\r\ny=\"=\\n=\"\n\xff\xfe=\"z\""))
	f.Add([]byte(strings.Repeat(`k="`+strings.Repeat("v", 1000)+`"`+"\n", 1100))) // ~1 MiB
	f.Fuzz(func(t *testing.T, data []byte) {
		ann, _ := podinfo.Parse(data)
		podinfo.ModeOf(ann)
		// What kubelet writes parses back to the same map.
		again, errs := podinfo.Parse(podinfo.Format(ann))
		if len(errs) != 0 || len(again) != len(ann) {
			t.Fatalf("Format/Parse round trip: %v, %d vs %d keys", errs, len(again), len(ann))
		}
		for k, v := range ann {
			if strings.ContainsAny(k, "\n\r") {
				continue
			}
			if again[k] != v {
				t.Fatalf("%q: %q != %q", k, again[k], v)
			}
		}
	})
}

// watch starts a Watcher on dir, logging into the returned observer; it
// stops with the test.
func watch(t *testing.T, dir string, resync time.Duration) (*podinfo.Watcher, *observer.ObservedLogs) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	core, logs := observer.New(zap.InfoLevel)
	return podinfo.Watch(ctx, podinfo.WatchConfig{Dir: dir, Logger: zap.New(core), Resync: resync}), logs
}

func waitState(t *testing.T, w *podinfo.Watcher, want podinfo.Mode) podinfo.State {
	t.Helper()
	return waitStateWithin(t, w, want, 15*time.Second)
}

func waitStateWithin(t *testing.T, w *podinfo.Watcher, want podinfo.Mode, within time.Duration) podinfo.State {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case st := <-w.Changes():
			if st.Mode == want {
				return st
			}
		case <-deadline:
			t.Fatalf("mode not %v within %s", want, within)
		}
	}
}

// The watcher follows kubelet's ..data swaps, both ways, many times: a watch
// on the file itself would die at the first swap.
func TestWatchFollowsKubeletSwaps(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "podinfo")
	base := map[string]string{"app.kubernetes.io/component": "fe"}
	if err := podinfotest.Write(dir, base, base); err != nil {
		t.Fatal(err)
	}
	w, logs := watch(t, dir, time.Hour)
	if w.Current().Mode != podinfo.Normal || !w.Current().Present {
		t.Fatalf("initial state %+v", w.Current())
	}
	debug := map[string]string{"app.kubernetes.io/component": "fe", podinfo.KeyRunmode: "debug"}
	for i := 0; i < 5; i++ {
		if err := podinfotest.Write(dir, debug, base); err != nil {
			t.Fatal(err)
		}
		waitState(t, w, podinfo.Debug)
		if err := podinfotest.Write(dir, base, base); err != nil {
			t.Fatal(err)
		}
		waitState(t, w, podinfo.Normal)
	}
	changed := logs.FilterMessage("run mode changed")
	if n := logs.Len() - changed.Len(); n != 0 {
		t.Errorf("unexpected log lines: %v", logs.All())
	}
	if changed.Len() != 10 {
		t.Errorf("%d mode changes logged, want 10: %v", changed.Len(), changed.All())
	}
	for _, e := range changed.All() {
		if f := e.ContextMap(); f["source"] != "file" || f["trigger"] != "event" {
			t.Errorf("change logged with %v, want source file, trigger event", f)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 { // ..data, one ..timestamp dir, annotations, labels
		t.Errorf("kubelet-style dir has %d entries", len(entries))
	}
}

// A missing directory means normal mode, one log line, and the watcher picks
// the file up when it appears (on the resync timer, as there is nothing to
// watch yet).
func TestWatchMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "podinfo")
	w, logs := watch(t, dir, 20*time.Millisecond)
	if st := w.Current(); st.Present || st.Mode != podinfo.Normal {
		t.Fatalf("state %+v", st)
	}
	if logs.FilterMessage("no annotations file: normal mode; watching for it").Len() != 1 {
		t.Fatalf("want one log line; got %v", logs.All())
	}
	if err := podinfotest.Write(dir, map[string]string{podinfo.KeyRunmodeApache: "debug"}, nil); err != nil {
		t.Fatal(err)
	}
	waitState(t, w, podinfo.Debug)
}

// Malformed lines and unexpected values are logged once per content, not at
// every re-read.
func TestWatchLogsOncePerContent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "podinfo")
	if err := podinfotest.WriteFiles(dir, map[string][]byte{podinfo.File: []byte("junk\nselectdb.com.doris/runmode=\"yes\"")}); err != nil {
		t.Fatal(err)
	}
	w, logs := watch(t, dir, 5*time.Millisecond)
	// Let the resync timer re-read the unchanged file several times: wait
	// for a later change to be seen, which proves the re-reads happened.
	if err := podinfotest.WriteFiles(dir, map[string][]byte{podinfo.File: []byte("junk\nselectdb.com.doris/runmode=\"yes\"\nz=\"1\"")}); err != nil {
		t.Fatal(err)
	}
	st := <-w.Changes()
	if st.Annotations["z"] != "1" {
		t.Fatalf("state %+v", st)
	}
	if n := logs.FilterMessage("skipping a malformed annotations line").Len(); n != 2 {
		t.Errorf("%d malformed-line logs, want 2 (one per content)", n)
	}
	if n := logs.FilterMessage("unexpected runmode annotation: normal mode").Len(); n != 2 {
		t.Errorf("%d unexpected-value logs, want 2", n)
	}
}

// The pod watch (Feed) shows a change first; kubelet's file follows about a
// second later. A quick round trip through the API must not flap back when
// the file catches up with the first half of it.
func TestFeedWinsAndStaleFileWaits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "podinfo")
	base := map[string]string{"app.kubernetes.io/component": "be"}
	debug := map[string]string{"app.kubernetes.io/component": "be", podinfo.KeyRunmode: "debug"}
	if err := podinfotest.Write(dir, base, base); err != nil {
		t.Fatal(err)
	}
	w, logs := watch(t, dir, time.Hour)
	w.Feed("api", base) // the watch's first read agrees with the file
	select {
	case st := <-w.Changes():
		if st.Mode != podinfo.Normal {
			t.Fatalf("first feed: %+v", st)
		}
	default:
	}
	w.Feed("api", debug)
	waitState(t, w, podinfo.Debug)
	w.Feed("api", base)
	waitState(t, w, podinfo.Normal)
	// kubelet now writes the debug annotation it saw first: stale.
	if err := podinfotest.Write(dir, debug, base); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for logs.FilterMessage("annotations file behind the pod watch: waiting for kubelet to catch up").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the stale file was not recognised: %v", logs.All())
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case st := <-w.Changes():
		t.Fatalf("a stale file flipped the mode: %+v", st)
	default:
	}
	if w.Current().Mode != podinfo.Normal {
		t.Fatalf("current %+v", w.Current())
	}
	// And catches up: the file agrees again, nothing changes.
	if err := podinfotest.Write(dir, base, base); err != nil {
		t.Fatal(err)
	}
	waitState(t, w, podinfo.Normal)
}
