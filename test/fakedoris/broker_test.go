package fakedoris

import (
	"strings"
	"testing"
)

// ALTER SYSTEM ADD/DROP [ALL] BROKER as BrokerMgr answers them, and SHOW
// BROKER's columns.
func TestBrokerStatements(t *testing.T) {
	c := NewCluster(Layout21)
	steps := []struct {
		q, err string
		want   int // brokers after
	}{
		{"ALTER SYSTEM ADD BROKER `broker001` \"b-0:8000\"", "", 1},
		{`ALTER SYSTEM ADD BROKER broker001 "b-1:8000", "b-2:8000"`, "", 3},
		{"alter system add broker `broker001` \"b-0:8000\"", "has already in brokers", 3},
		{`ALTER SYSTEM ADD BROKER "hdfs" "b-0:8000"`, "", 4},
		{"ALTER SYSTEM ADD BROKER `` \"b-0:8000\"", "name can't be empty", 4},
		{`ALTER SYSTEM ADD BROKER broker001 "b-0"`, "host or port is wrong", 4},
		{`ALTER SYSTEM DROP BROKER nobody "b-0:8000"`, "Unknown broker name(nobody)", 4},
		{`ALTER SYSTEM DROP BROKER broker001 "b-9:8000"`, "has not in brokers", 4},
		{"ALTER SYSTEM DROP BROKER `broker001` \"b-0:8000\"", "", 3},
		{`ALTER SYSTEM DROP ALL BROKER broker001`, "", 1},
	}
	for _, s := range steps {
		ok, err := c.alterBroker(s.q)
		switch {
		case !ok:
			t.Fatalf("%s: not recognised", s.q)
		case s.err == "" && err != nil, s.err != "" && (err == nil || !strings.Contains(err.Error(), s.err)):
			t.Fatalf("%s: %v, want %q", s.q, err, s.err)
		case len(c.Brokers()) != s.want:
			t.Fatalf("%s: brokers %+v, want %d", s.q, c.Brokers(), s.want)
		}
	}
	if ok, _ := c.alterBroker(`ALTER SYSTEM ADD BACKEND "b-0:9050"`); ok {
		t.Fatal("a backend statement taken for a broker one")
	}
	names, rows := c.brokerRows()
	if strings.Join(names, ",") != "Name,Host,Port,Alive,LastStartTime,LastUpdateTime,ErrMsg" || len(rows) != 1 || rows[0][0] != "hdfs" {
		t.Fatalf("SHOW BROKER %q %v", names, rows)
	}
}
