package cluster

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// FEAddrs turns the operator's FE_ADDRS argument ("a,b,c", each optionally
// host:port) into host:port addresses, queryPort being the default port.
func FEAddrs(arg string, queryPort int) ([]string, error) {
	var out []string
	for _, a := range strings.Split(arg, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		host, port := a, queryPort
		if h, p, err := net.SplitHostPort(a); err == nil {
			n, err := strconv.Atoi(p)
			if err != nil {
				return nil, fmt.Errorf("FE address %q: bad port", a)
			}
			host, port = h, n
		}
		hp, err := HostPort(host, port)
		if err != nil {
			return nil, fmt.Errorf("FE address %q: %w", a, err)
		}
		out = append(out, hp)
	}
	if len(out) == 0 {
		return nil, errors.New("no FE address given (FE_ADDRS is empty)")
	}
	return out, nil
}

// Identity returns how the FE should know this node: POD_FQDN (else the
// host's FQDN from /etc/hosts, as hostname -f) in FQDN mode, POD_IP (else the
// host's address) in IP mode.
func Identity(ipMode bool, getenv func(string) string, hostsFile string) (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", err
	}
	if ipMode {
		if ip := getenv("POD_IP"); ip != "" {
			return ip, nil
		}
		for _, f := range hostsLines(hostsFile, host) {
			if ip := net.ParseIP(f[0]); ip != nil && !ip.IsLoopback() {
				return f[0], nil
			}
		}
		return "", fmt.Errorf("no POD_IP and no address for %s in %s", host, hostsFile)
	}
	if fqdn := getenv("POD_FQDN"); fqdn != "" {
		return fqdn, nil
	}
	for _, f := range hostsLines(hostsFile, host) {
		for _, name := range f[1:] {
			if strings.HasPrefix(name, host+".") {
				return name, nil
			}
		}
	}
	return host, nil
}

// hostsLines returns the fields of the /etc/hosts lines that name host.
func hostsLines(path, host string) [][]string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		for _, name := range fields[1:] {
			if name == host || strings.HasPrefix(name, host+".") {
				out = append(out, fields)
				break
			}
		}
	}
	return out
}

// Ordinal is the StatefulSet ordinal in a pod name or FQDN: the last
// '-'-separated field of the first label ("doriscluster-sample-fe-1.…" → 1).
func Ordinal(fqdn string) (int, error) {
	label, _, _ := strings.Cut(fqdn, ".")
	i := strings.LastIndexByte(label, '-')
	n, err := strconv.Atoi(label[i+1:])
	if err != nil || n < 0 {
		return 0, fmt.Errorf("no ordinal in %q", fqdn)
	}
	return n, nil
}
