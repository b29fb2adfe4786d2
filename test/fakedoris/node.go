package fakedoris

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/apache/doris-entrypoint/confpatch"
	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/server"
)

// A fake node is what a fake start_fe.sh / start_be.sh execs in place of
// java / doris_be: it listens on the conf's ports until SIGTERM. Fake FEs
// of one cluster find each other through a directory (dir): the FE started
// without --helper is the master and writes its MySQL address to
// dir/master; the others forward every statement to it, as real FEs forward
// to the master, so all of them show one cluster.

func confPort(data []byte, key string, def int) int {
	p, err := confpatch.PortValue(data, confpatch.Port{Key: key, Default: def})
	if err != nil {
		return def
	}
	return p
}

// RunFE runs a fake FE for conf with start_fe.sh's arguments; self is its
// host name (POD_FQDN); dir is shared by the cluster's fake FEs. The fake
// master keeps the cluster in memory: a restarted master starts empty.
func RunFE(conf string, args []string, dir, self string) error {
	data, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	qp, hp, ep := confPort(data, "query_port", 9030), confPort(data, "http_port", 8030), confPort(data, "edit_log_port", 9010)
	helper := ""
	for i, a := range args {
		if a == "--helper" && i+1 < len(args) {
			helper = args[i+1]
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(bindHost(), strconv.Itoa(qp)))
	if err != nil {
		return err
	}
	c := NewCluster(Layout21)
	var closer interface{ Close() error }
	// Without --helper an FE starts a new cluster, or (with metadata)
	// rejoins its own: the fake is master only when there is none yet.
	// A master restarting (its address is in the file) is master again.
	prev, err := os.ReadFile(filepath.Join(dir, "master"))
	if helper == "" && (err != nil || string(prev) == ln.Addr().String()) {
		c.AddFrontend(Frontend{Host: self, EditLogPort: ep, HTTPPort: hp, QueryPort: qp, RPCPort: 9020, ArrowPort: -1,
			Role: "FOLLOWER", IsMaster: true, Alive: true, Join: true})
		closer = ServeFE(ln, c, self)
		if err := writeFileAtomic(filepath.Join(dir, "master"), []byte(ln.Addr().String())); err != nil {
			return err
		}
	} else {
		master, err := waitFile(filepath.Join(dir, "master"), 30*time.Second)
		if err != nil {
			return err
		}
		closer = serveProxy(ln, string(master))
	}
	defer closer.Close()
	// A started FE has metadata from now on.
	meta := filepath.Join(filepath.Dir(filepath.Dir(conf)), "doris-meta", "image")
	if err := os.MkdirAll(meta, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(meta, "ROLE"), []byte("role=FOLLOWER\n"), 0o644); err != nil {
		return err
	}
	return serveUntilTERM(hp, c.FEHealth())
}

// RunBE runs a fake BE for conf: heartbeat port accepts, webserver serves
// /api/health.
func RunBE(conf string) error {
	data, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	hb, err := net.Listen("tcp", net.JoinHostPort(bindHost(), strconv.Itoa(confPort(data, "heartbeat_service_port", 9050))))
	if err != nil {
		return err
	}
	defer hb.Close()
	go func() {
		for {
			c, err := hb.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return serveUntilTERM(confPort(data, "webserver_port", 8040), NewCluster(Layout21).BEHealth())
}

// bindHost is where a fake node listens: loopback, or $FAKE_BIND_HOST (a
// container on a network: 0.0.0.0).
func bindHost() string {
	if h := os.Getenv("FAKE_BIND_HOST"); h != "" {
		return h
	}
	return "127.0.0.1"
}

// holdStop plays a JVM whose graceful stop takes a while: with
// $FAKE_STOP_DELAY (a Go duration) it serves on that long after SIGTERM and
// then prints "cleanup done" on stdout; with $FAKE_STOP_GATE set, it creates
// $FAKE_STOP_GATE.term when SIGTERM arrives and goes on serving until the
// test creates $FAKE_STOP_GATE.
func holdStop() {
	if d, err := time.ParseDuration(os.Getenv("FAKE_STOP_DELAY")); err == nil {
		fmt.Println("fake node: SIGTERM received, cleaning up for", d)
		time.Sleep(d)
		fmt.Println("fake node: cleanup done")
	}
	gate := os.Getenv("FAKE_STOP_GATE")
	if gate == "" {
		return
	}
	os.WriteFile(gate+".term", nil, 0o644)
	for {
		if _, err := os.Stat(gate); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func serveUntilTERM(httpPort int, h http.Handler) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	srv := &http.Server{Addr: net.JoinHostPort(bindHost(), strconv.Itoa(httpPort)), Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case <-sig:
		holdStop()
		srv.Shutdown(context.Background())
		return nil
	case err := <-errc:
		return err
	}
}

// proxy forwards every statement to the master.
type proxy struct {
	server.EmptyHandler
	master string
}

func (p *proxy) UseDB(string) error { return nil }

func (p *proxy) HandleQuery(q string) (*mysql.Result, error) {
	conn, err := client.Connect(p.master, "root", "", "")
	if err != nil {
		return nil, mysql.NewError(mysql.ER_UNKNOWN_ERROR, "master unreachable: "+err.Error())
	}
	defer conn.Close()
	return conn.Execute(q)
}

type proxyServer struct{ ln net.Listener }

func (p proxyServer) Close() error { return p.ln.Close() }

func serveProxy(ln net.Listener, master string) proxyServer {
	go serveMySQL(ln, rootOnly{}, func(net.Conn) (server.Handler, bool) { return &proxy{master: master}, true })
	return proxyServer{ln}
}

type rootOnly struct{}

func (rootOnly) CheckUsername(u string) (bool, error)         { return u == "root", nil }
func (rootOnly) GetCredential(u string) (string, bool, error) { return "", u == "root", nil }

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func waitFile(path string, d time.Duration) ([]byte, error) {
	deadline := time.Now().Add(d)
	for {
		if b, err := os.ReadFile(path); err == nil {
			return b, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no %s after %s", path, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
