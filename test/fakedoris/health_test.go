package fakedoris

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHealthBodies(t *testing.T) {
	c := NewCluster(Layout21)
	c.backends = []Backend{{Host: "be-0", Alive: true}, {Host: "be-1"}}
	for _, tt := range []struct {
		h    http.Handler
		want string
	}{
		{c.FEHealth(), `{"msg":"success","code":0,"data":{"online_backend_num":1,"total_backend_num":2},"count":0}`},
		{c.BEHealth(), `{"status": "OK","msg": "To Be Added"}`},
	} {
		srv := httptest.NewServer(tt.h)
		resp, err := http.Get(srv.URL + "/api/health")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != 200 || string(b) != tt.want || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("got %d %q", resp.StatusCode, b)
		}
	}
}
