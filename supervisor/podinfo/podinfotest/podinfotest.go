// Package podinfotest writes a downward-API directory the way kubelet's
// AtomicWriter does (pkg/volume/util/atomic_writer.go), for tests and demos:
//
//  1. the payload goes into a new hidden directory ..YYYY_MM_DD_HH_MM_SS.N;
//  2. a symlink ..data_tmp -> the new directory is created,
//  3. and renamed over ..data (the atomic step);
//  4. the user-visible symlinks (annotations -> ..data/annotations) are
//     created the first time;
//  5. the old timestamped directory is removed.
//
// Like kubelet, it writes only when the content changed. WriteFilesStepwise
// lets a test act between the steps (kubelet descheduled mid-write).
package podinfotest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/apache/doris-entrypoint/supervisor/podinfo"
)

var seq atomic.Uint64

// Write publishes annotations (and labels, when non-nil) into dir.
func Write(dir string, annotations, labels map[string]string) error {
	files := map[string][]byte{podinfo.File: podinfo.Format(annotations)}
	if labels != nil {
		files["labels"] = podinfo.Format(labels)
	}
	return WriteFiles(dir, files)
}

// The steps of a write, in order, as WriteFilesStepwise names them.
const (
	StepPayload = "payload"    // 1: the new timestamped directory written
	StepTmpLink = "..data_tmp" // 2: the link to it created
	StepSwap    = "..data"     // 3: ..data_tmp renamed over ..data
	StepLinks   = "links"      // 4: the user-visible links (the first time)
	StepCleanup = "cleanup"    // 5: the old timestamped directory removed
)

// Steps lists the steps of a write in order.
var Steps = []string{StepPayload, StepTmpLink, StepSwap, StepLinks, StepCleanup}

// WriteFiles publishes raw file contents into dir, kubelet style.
func WriteFiles(dir string, files map[string][]byte) error {
	return WriteFilesStepwise(dir, files, nil)
}

// WriteFilesStepwise is WriteFiles calling after (when not nil) once each
// step is done.
func WriteFilesStepwise(dir string, files map[string][]byte, after func(step string)) error {
	done := func(step string) {
		if after != nil {
			after(step)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dataLink := filepath.Join(dir, "..data")
	oldTS, _ := os.Readlink(dataLink)
	if oldTS != "" && unchanged(dir, files) {
		return nil
	}
	ts := fmt.Sprintf("..%s.%d", time.Now().UTC().Format("2006_01_02_15_04_05"), seq.Add(1))
	tsDir := filepath.Join(dir, ts)
	if err := os.Mkdir(tsDir, 0o755); err != nil {
		return err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tsDir, name), data, 0o644); err != nil {
			return err
		}
	}
	done(StepPayload)
	tmp := filepath.Join(dir, "..data_tmp")
	os.Remove(tmp)
	if err := os.Symlink(ts, tmp); err != nil {
		return err
	}
	done(StepTmpLink)
	if err := os.Rename(tmp, dataLink); err != nil {
		return err
	}
	done(StepSwap)
	for name := range files {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				return err
			}
		}
	}
	done(StepLinks)
	if oldTS != "" {
		if err := os.RemoveAll(filepath.Join(dir, oldTS)); err != nil {
			return err
		}
	}
	done(StepCleanup)
	return nil
}

func unchanged(dir string, files map[string][]byte) bool {
	for name, data := range files {
		cur, err := os.ReadFile(filepath.Join(dir, "..data", name))
		if err != nil || !bytes.Equal(cur, data) {
			return false
		}
	}
	return true
}
