package fakedoris

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// FsBroker is one row of SHOW BROKER.
type FsBroker struct {
	Name, Host string
	Port       int
	Alive      bool
}

// brokerColumns are SHOW BROKER's (apache/doris
// fe/fe-core/src/main/java/org/apache/doris/catalog/BrokerMgr.java
// BROKER_PROC_NODE_TITLE_NAMES, 2.0 on).
var brokerColumns = []string{"Name", "Host", "Port", "Alive", "LastStartTime", "LastUpdateTime", "ErrMsg"}

var (
	// ALTER SYSTEM ADD|DROP BROKER name "h:p"[, "h:p" …] and DROP ALL BROKER
	// name (fe/fe-core/src/main/antlr4/org/apache/doris/nereids/DorisParser.g4:
	// the name an identifier, backquoted or not, or a string).
	reBroker    = regexp.MustCompile("(?is)^ALTER\\s+SYSTEM\\s+(ADD|DROP)\\s+BROKER\\s+(`[^`]*`|\"[^\"]*\"|'[^']*'|[A-Za-z0-9_]+)\\s+(\"[^\"]*\"(?:\\s*,\\s*\"[^\"]*\")*)\\s*$")
	reDropAll   = regexp.MustCompile("(?is)^ALTER\\s+SYSTEM\\s+DROP\\s+ALL\\s+BROKER\\s+(`[^`]*`|\"[^\"]*\"|'[^']*'|[A-Za-z0-9_]+)\\s*$")
	reHostPorts = regexp.MustCompile(`"([^"]*)"`)
)

// AddBroker adds a SHOW BROKER row.
func (c *Cluster) AddBroker(b FsBroker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.brokers = append(c.brokers, b)
}

// Brokers returns a copy of the rows.
func (c *Cluster) Brokers() []FsBroker {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]FsBroker(nil), c.brokers...)
}

// brokerRows renders SHOW BROKER.
func (c *Cluster) brokerRows() ([]string, [][]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var rows [][]any
	for _, b := range c.brokers {
		errMsg := ""
		if !b.Alive {
			errMsg = "java.net.ConnectException: Connection refused"
		}
		rows = append(rows, []any{b.Name, b.Host, b.Port, tf(b.Alive), stamp, stamp, errMsg})
	}
	return brokerColumns, rows
}

// alterBroker applies ALTER SYSTEM ADD/DROP [ALL] BROKER with BrokerMgr's
// refusals (addBrokers, dropBrokers, dropAllBroker; ModifyBrokerClause and
// SystemInfoService.validateHostAndPort for the arguments).
func (c *Cluster) alterBroker(q string) (bool, error) {
	var verb, name string
	var hps []string
	if m := reBroker.FindStringSubmatch(q); m != nil {
		verb, name = strings.ToUpper(m[1]), m[2]
		for _, hp := range reHostPorts.FindAllStringSubmatch(m[3], -1) {
			hps = append(hps, hp[1])
		}
	} else if m := reDropAll.FindStringSubmatch(q); m != nil {
		verb, name = "DROP ALL", m[1]
	} else {
		return false, nil
	}
	name = strings.Trim(name, "`\"'")
	if name == "" {
		return true, errors.New("Broker's name can't be empty.")
	}
	type pair struct {
		host string
		port int
	}
	var pairs []pair
	for _, hp := range hps {
		h, p, err := splitHostPort(hp)
		if err != nil || p < 1 || p > 65535 {
			return true, errors.New("broker host or port is wrong!")
		}
		pairs = append(pairs, pair{h, p})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	find := func(p pair) int {
		for i, b := range c.brokers {
			if b.Name == name && b.Host == p.host && b.Port == p.port {
				return i
			}
		}
		return -1
	}
	known := false
	for _, b := range c.brokers {
		known = known || b.Name == name
	}
	switch verb {
	case "ADD":
		for _, p := range pairs {
			if find(p) >= 0 {
				return true, fmt.Errorf("Broker(%s:%d) has already in brokers.", p.host, p.port)
			}
		}
		for _, p := range pairs {
			c.brokers = append(c.brokers, FsBroker{Name: name, Host: p.host, Port: p.port, Alive: true})
		}
	case "DROP":
		if !known {
			return true, fmt.Errorf("Unknown broker name(%s)", name)
		}
		for _, p := range pairs {
			if find(p) < 0 {
				return true, fmt.Errorf("Broker(%s:%d) has not in brokers.", p.host, p.port)
			}
		}
		for _, p := range pairs {
			i := find(p)
			c.brokers = append(c.brokers[:i], c.brokers[i+1:]...)
		}
	case "DROP ALL":
		if !known {
			return true, fmt.Errorf("Unknown broker name(%s)", name)
		}
		kept := c.brokers[:0]
		for _, b := range c.brokers {
			if b.Name != name {
				kept = append(kept, b)
			}
		}
		c.brokers = kept
	}
	return true, nil
}

// RunBroker runs a fake broker for conf (apache_hdfs_broker.conf): its
// broker_ipc_port accepts (and closes) connections until SIGTERM, as the
// broker's Thrift server listens.
func RunBroker(conf string) error {
	data, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	ln, err := net.Listen("tcp", net.JoinHostPort(bindHost(), strconv.Itoa(confPort(data, "broker_ipc_port", 8000))))
	if err != nil {
		return err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	<-sig
	holdStop()
	return nil
}
