package probes

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// Listening reads the socket tables as netstat -nltu does: a TCP listener
// and an unconnected UDP socket count, a connected one and another port do
// not.
func TestListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udp.Close() })
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gonePort := gone.Addr().(*net.TCPAddr).Port
	gone.Close()
	// A connection's client end: ESTABLISHED on its own port, not LISTEN.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	tests := []struct {
		name string
		port int
		want bool
	}{
		{"tcp listener", ln.Addr().(*net.TCPAddr).Port, true},
		{"udp socket", udp.LocalAddr().(*net.UDPAddr).Port, true},
		{"closed port", gonePort, false},
		{"client end of a connection", conn.LocalAddr().(*net.TCPAddr).Port, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Listening(tt.port); err != nil || got != tt.want {
				t.Fatalf("Listening(%d) = %v, %v; want %v", tt.port, got, err, tt.want)
			}
		})
	}
}

// The tables' format, as the kernel writes it (net/ipv4/tcp_ipv4.c,
// udp.c), and what cannot be read.
func TestListeningTables(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	header := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	write("tcp", header+"   0: 00000000:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n"+
		"   1: 0100007F:1F41 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1\n")
	write("tcp6", header+"   0: 00000000000000000000000000000000:1F42 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0\n")
	write("udp", header+"  10: 00000000:1F43 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4 2 0\n"+
		"  11: 0100007F:1F44 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 5 2 0\n")
	for _, tt := range []struct {
		port int
		want bool
	}{{8000, true}, {8001, false}, {8002, true}, {8003, true}, {8004, false}, {9000, false}} {
		if got, err := listening(dir, tt.port); err != nil || got != tt.want {
			t.Errorf("port %d: %v, %v; want %v", tt.port, got, err, tt.want)
		}
	}
	if _, err := listening(filepath.Join(dir, "none"), 8000); err == nil {
		t.Error("no tables: no error")
	}
	if _, err := listening(dir, 0); err == nil {
		t.Error("port 0 accepted")
	}
}
