package podinfo

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// File is the name of the annotations file in the downward-API directory.
const File = "annotations"

// Defaults for WatchConfig.
const (
	DefaultDebounce = 50 * time.Millisecond
	DefaultResync   = 10 * time.Second
)

// UnwatchedPoll is how often the file is re-read while its directory is not
// watched: inotify unavailable (fs.inotify.max_user_instances is shared by
// every root process on the node), the directory missing, removed or
// renamed. A change then costs at most this, not the Resync.
const UnwatchedPoll = time.Second

// State is what the annotations file says at one moment.
type State struct {
	Mode        Mode
	RunmodeKey  string            // the annotation that asked for Debug, as written; "" in Normal
	Annotations map[string]string // nil when the file is missing
	Present     bool              // the file exists and was read
}

// What made the Watcher re-read the file, as its log line says.
const (
	triggerStart  = "start"
	triggerEvent  = "event"  // a directory event, debounced
	triggerResync = "resync" // the safety-net timer while the directory is watched
	triggerPoll   = "poll"   // the UnwatchedPoll timer
)

// newFSWatcher is fsnotify.NewWatcher; tests replace it.
var newFSWatcher = fsnotify.NewWatcher

// WatchConfig configures Watch.
type WatchConfig struct {
	Dir      string        // the downward-API directory, e.g. /etc/podinfo
	Logger   *zap.Logger   // nil discards
	Debounce time.Duration // after a directory event; 0 means DefaultDebounce
	Resync   time.Duration // safety-net re-read; 0 means DefaultResync
}

// Watcher follows the annotations file, and whatever else Feed gives it
// (the pod watch through the API).
type Watcher struct {
	cfg     WatchConfig
	log     *zap.Logger
	path    string
	last    []byte
	present bool
	changes chan State

	mu        sync.Mutex
	state     State
	fedLast   map[string]string // the annotations Feed saw last
	fed       bool
	apiMode   Mode      // the mode Feed saw last
	apiModeAt time.Time // when it changed
	ignored   []byte    // a file content held back as stale, logged once
}

// StaleWindow is how long after the pod watch showed a mode change a file
// content that says the previous mode is taken as kubelet lagging behind
// (it rewrites the file up to a couple of seconds after the API change), not
// as a new change: without it, a quick debug round trip would flap back.
const StaleWindow = 10 * time.Second

// Read reads the annotations once: the State now. Errors other than a
// missing file or directory (which mean Normal) are returned with a Normal
// state.
func Read(dir string) (State, []error, error) {
	data, err := os.ReadFile(filepath.Join(dir, File))
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, nil, nil
	}
	if err != nil {
		return State{}, nil, err
	}
	ann, errs := Parse(data)
	mode, key, _ := ModeOf(ann)
	return State{Mode: mode, RunmodeKey: key, Annotations: ann, Present: true}, errs, nil
}

// Watch reads the annotations now and then follows them until ctx ends.
// Current returns the state read now; Changes delivers each later change of
// mode or annotations (only the latest, when the reader is slow).
func Watch(ctx context.Context, cfg WatchConfig) *Watcher {
	if cfg.Debounce <= 0 {
		cfg.Debounce = DefaultDebounce
	}
	if cfg.Resync <= 0 {
		cfg.Resync = DefaultResync
	}
	w := &Watcher{cfg: cfg, log: cfg.Logger, path: filepath.Join(cfg.Dir, File), changes: make(chan State, 1)}
	if w.log == nil {
		w.log = zap.NewNop()
	}
	// Watch first, read second: a change in between is then seen twice
	// rather than not at all.
	fw, err := newFSWatcher()
	if err != nil {
		w.log.Warn("cannot watch the annotations directory; re-reading it every "+UnwatchedPoll.String(), zap.Error(err))
		fw = nil
	}
	watching := false
	if fw != nil {
		err := fw.Add(cfg.Dir)
		watching = err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			w.log.Warn("cannot watch the annotations directory; re-reading it every "+UnwatchedPoll.String()+" until it can",
				zap.String("dir", cfg.Dir), zap.Error(err))
		}
	}
	w.reload(triggerStart)
	go w.run(ctx, fw, watching)
	return w
}

// Current returns the latest state (at first: the one read when Watch was
// called).
func (w *Watcher) Current() State {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state
}

// Feed takes the pod's annotations from another source (the pod watch
// through the API, which sees a change before kubelet rewrites the file):
// whichever source shows a change first wins. It publishes when the mode
// differs from the current one or the fed annotations changed since the
// last Feed; the file, once kubelet has caught up, then agrees.
func (w *Watcher) Feed(source string, ann map[string]string) {
	mode, key, _ := ModeOf(ann)
	w.mu.Lock()
	changed := !w.fed || !maps.Equal(ann, w.fedLast)
	if !w.fed || mode != w.apiMode {
		w.apiMode, w.apiModeAt = mode, time.Now()
	}
	w.fed, w.fedLast = true, maps.Clone(ann)
	if mode == w.state.Mode && !changed {
		w.mu.Unlock()
		return
	}
	differs := mode != w.state.Mode
	w.mu.Unlock()
	if differs {
		w.log.Info("run mode changed", zap.String("source", source), zap.String("mode", mode.String()), zap.String("annotation", key))
	}
	w.publish(State{Mode: mode, RunmodeKey: key, Annotations: ann, Present: true}, false)
}

// Changes delivers the new state after each change.
func (w *Watcher) Changes() <-chan State { return w.changes }

// reload re-reads the file and, when its bytes changed, parses it, logs
// what is wrong with it (once per content), and publishes the new state. A
// change of mode is logged with what triggered the re-read and how long ago
// the file was written: a large age says the change was seen late (by us),
// a small one that it was written late (by kubelet).
func (w *Watcher) reload(trigger string) {
	first := trigger == triggerStart
	data, err := os.ReadFile(w.path)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		w.log.Warn("cannot read the annotations; keeping the current mode", zap.String("path", w.path), zap.Error(err))
		return
	}
	if missing {
		if w.present || first {
			w.log.Info("no annotations file: normal mode; watching for it", zap.String("path", w.path))
		}
		if !w.present && !first {
			return
		}
		w.present, w.last = false, nil
		w.publish(State{}, first)
		return
	}
	if w.present && bytes.Equal(data, w.last) {
		return
	}
	w.present, w.last = true, data
	ann, errs := Parse(data)
	for _, e := range errs {
		w.log.Warn("skipping a malformed annotations line", zap.Error(e))
	}
	mode, key, unexpected := ModeOf(ann)
	if unexpected != "" {
		w.log.Warn("unexpected runmode annotation: normal mode", zap.String("annotation", unexpected))
	}
	if w.stale(mode, data) {
		w.last = nil // look again at the next event or resync
		return
	}
	if prev := w.Current().Mode; !first && mode != prev {
		fields := []zap.Field{zap.String("source", "file"), zap.String("mode", mode.String()),
			zap.String("annotation", key), zap.String("trigger", trigger)}
		if fi, err := os.Stat(w.path); err == nil {
			fields = append(fields, zap.Duration("written_ago", time.Since(fi.ModTime())))
		}
		w.log.Info("run mode changed", fields...)
	}
	w.publish(State{Mode: mode, RunmodeKey: key, Annotations: ann, Present: true}, first)
}

// stale says the file, which says mode, is behind the pod watch: the API
// switched away from mode less than StaleWindow ago.
func (w *Watcher) stale(mode Mode, data []byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.fed || mode == w.apiMode || time.Since(w.apiModeAt) >= StaleWindow {
		return false
	}
	if !bytes.Equal(data, w.ignored) {
		w.ignored = data
		w.log.Info("annotations file behind the pod watch: waiting for kubelet to catch up",
			zap.String("file_mode", mode.String()), zap.String("api_mode", w.apiMode.String()))
	}
	return true
}

func (w *Watcher) publish(st State, first bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.state = st
	if first {
		return
	}
	select { // keep only the latest
	case <-w.changes:
	default:
	}
	w.changes <- st
}

func (w *Watcher) run(ctx context.Context, fw *fsnotify.Watcher, watching bool) {
	dir := filepath.Clean(w.cfg.Dir)
	// period is the re-read period: Resync while the directory is watched,
	// at most UnwatchedPoll while it is not.
	period := func() time.Duration {
		if watching {
			return w.cfg.Resync
		}
		return min(w.cfg.Resync, UnwatchedPoll)
	}
	addWatch := func() {
		if fw == nil {
			return
		}
		if watching && len(fw.WatchList()) == 0 {
			watching = false // dropped without an event we act on (e.g. IN_UNMOUNT)
		}
		if !watching && fw.Add(w.cfg.Dir) == nil {
			watching = true
		}
	}
	var events <-chan fsnotify.Event
	var errs <-chan error
	if fw != nil {
		defer fw.Close()
		events, errs = fw.Events, fw.Errors
	}
	resync := time.NewTimer(period())
	defer resync.Stop()
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			// The directory itself removed or renamed (IN_DELETE_SELF,
			// IN_MOVE_SELF): its watch is gone; poll until a directory
			// is back at the path and watch that one.
			if ev.Op&(fsnotify.Remove|fsnotify.Rename) != 0 && filepath.Clean(ev.Name) == dir && watching {
				watching = false
				w.log.Info("annotations directory removed or renamed; re-reading it every "+UnwatchedPoll.String()+" until it is back",
					zap.String("dir", w.cfg.Dir))
				resync.Reset(period())
			}
			debounce.Reset(w.cfg.Debounce)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			w.log.Warn("annotations watch error; re-reading", zap.Error(err))
			debounce.Reset(w.cfg.Debounce)
		case <-debounce.C:
			w.reload(triggerEvent)
		case <-resync.C:
			trigger := triggerResync
			if !watching {
				trigger = triggerPoll
			}
			addWatch() // the directory may have appeared, or its watch gone
			w.reload(trigger)
			resync.Reset(period())
		}
	}
}
