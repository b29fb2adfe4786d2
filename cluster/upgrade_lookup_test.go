package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// blackHoleLookup is a real resolver timeout: a Go resolver whose DNS
// server (a UDP socket of the test's) never answers.
func blackHoleLookup(t *testing.T) error {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = r.LookupHost(ctx, "doris-fe-service.doris.svc.cluster.local")
	if err == nil {
		t.Fatal("the black hole answered")
	}
	return err
}

// A resolver timeout or temporary failure is worth asking again, through
// the wrapping of the dial and of view; "no such host" and a refused
// connection are not.
func TestTransientLookup(t *testing.T) {
	timeout := blackHoleLookup(t)
	dialErr := func(e error) error {
		return fmt.Errorf("show frontends on fe:9030: %w", &unreachableError{&net.OpError{Op: "dial", Net: "tcp", Err: e}})
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "resolver timeout", err: dialErr(timeout), want: true},
		{name: "temporary", err: dialErr(&net.DNSError{Err: "server misbehaving", Name: "fe", IsTemporary: true}), want: true},
		{name: "no such host", err: dialErr(&net.DNSError{Err: "no such host", Name: "fe", IsNotFound: true}), want: false},
		{name: "refused", err: dialErr(errors.New("connect: connection refused")), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := transientLookup(tt.err); got != tt.want {
				t.Errorf("transientLookup(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// view asks again while every FE failed on a transient lookup, up to its
// attempts, and says so; any other failure ends it at once.
func TestRetryLookups(t *testing.T) {
	lookup := &lookupError{fmt.Errorf("no FE answered: %w", &net.DNSError{Err: "i/o timeout", Name: "fe", IsTimeout: true})}
	other := errors.New("no FE answered: connection refused")
	tests := []struct {
		name    string
		fails   []error // the rounds' errors, then a view
		calls   int
		wantErr string
	}{
		{name: "one resolver timeout", fails: []error{lookup}, calls: 2},
		{name: "two", fails: []error{lookup, lookup}, calls: 3},
		{name: "every attempt", fails: []error{lookup, lookup, lookup, lookup}, calls: 3, wantErr: "name lookups failed 3 times in a row"},
		{name: "refused", fails: []error{other}, calls: 1, wantErr: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			v, err := retryLookups(context.Background(), lookupAttempts, time.Millisecond, func() (*clusterView, error) {
				calls++
				if calls <= len(tt.fails) {
					return nil, tt.fails[calls-1]
				}
				return &clusterView{ClusterID: "1"}, nil
			})
			if calls != tt.calls {
				t.Errorf("%d rounds, want %d", calls, tt.calls)
			}
			switch {
			case tt.wantErr == "" && (err != nil || v == nil):
				t.Errorf("view %v, %v; want a view", v, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("err %v, want %q", err, tt.wantErr)
			}
		})
	}
	t.Run("stop", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		_, err := retryLookups(ctx, lookupAttempts, time.Hour, func() (*clusterView, error) { calls++; cancel(); return nil, lookup })
		if calls != 1 || err == nil {
			t.Errorf("%d rounds, %v", calls, err)
		}
	})
}
