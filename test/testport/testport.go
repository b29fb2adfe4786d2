// Package testport hands out TCP ports to tests: free, below the kernel's
// ephemeral range, and reserved across the test processes of every package
// (a port picked twice, by two packages at once, is a flake).
package testport

import (
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Free returns a TCP port that is free on every address, and free offset
// above it too (0: no second port). It is picked at random below the
// kernel's ephemeral range (32768 and up), so that no listener on port 0
// and no outgoing connection — the supervisor's probe endpoint and health
// checks, the fakes' own connections — takes it before the test's server
// binds it.
func Free(t testing.TB, offset int) int {
	t.Helper()
	free := func(p int) bool {
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			return false
		}
		ln.Close()
		return true
	}
	for i := 0; i < 1000; i++ {
		p := 10000 + rand.IntN(32768-10000-offset)
		if free(p) && (offset == 0 || free(p+offset)) && reservePort(t, p) {
			if offset == 0 || reservePort(t, p+offset) {
				return p
			}
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

// portDir holds one file per port handed out by Free: test packages
// run in parallel processes, and a port one of them picked but has not bound
// yet looks free to the others.
var portDir = filepath.Join(os.TempDir(), "doris-entrypoint-test-ports")

// reservePort claims port for the rest of the test across processes; a
// claim older than an hour is a leftover of a killed run.
func reservePort(t testing.TB, port int) bool {
	t.Helper()
	if err := os.MkdirAll(portDir, 0o755); err != nil {
		return true // no reservation possible: the free check alone
	}
	path := filepath.Join(portDir, strconv.Itoa(port))
	if fi, err := os.Stat(path); err == nil && time.Since(fi.ModTime()) > time.Hour {
		os.Remove(path)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return false
	}
	f.Close()
	t.Cleanup(func() { os.Remove(path) })
	return true
}

// Closed is a loopback address nothing listens on.
func Closed(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
