package fakedoris

import (
	"strings"
	"testing"
)

// ADMIN SET FRONTEND CONFIG refuses what Doris refuses, with its texts
// (apache/doris ConfigBase.setMutableConfig, AdminSetFrontendConfigCommand
// validate), and a refused statement changes nothing.
func TestSetFrontendConfigRefusals(t *testing.T) {
	c := NewCluster(Layout21)
	addr := ServeT(t, c, "127.0.0.1")
	for _, tc := range []struct {
		q, err  string // err "": accepted
		balance string
	}{
		{q: `ADMIN SET FRONTEND CONFIG ("no_such_config" = "true")`, err: "errCode = 2, detailMessage = Config 'no_such_config' does not exist", balance: "false"},
		{q: `ADMIN SET FRONTEND CONFIG ("disable_balance" = "yes")`, err: "errCode = 2, detailMessage = Failed to set config 'disable_balance'. err: type mismatch", balance: "false"},
		{q: `ADMIN SET FRONTEND CONFIG ("disable_balance" = "")`, err: "Failed to set config 'disable_balance'. err: type mismatch", balance: "false"},
		{q: `ADMIN SET FRONTEND CONFIG ("max_bytes_per_broker_scanner" = "3G")`, err: `Failed to set config 'max_bytes_per_broker_scanner'. err: For input string: "3G"`, balance: "false"},
		{q: `ADMIN SET FRONTEND CONFIG ("disable_balance" = "true", "disable_tablet_scheduler" = "true")`, err: "config parameter size is not equal to 1", balance: "false"},
		{q: `ADMIN SET FRONTEND CONFIG`, err: "config parameter size is not equal to 1", balance: "false"},
		{q: `ADMIN SET FRONTEND CONFIG ("max_bytes_per_broker_scanner" = "1024")`, balance: "false"},
		{q: `ADMIN SET FRONTEND CONFIG ('disable_balance' = 'TRUE')`, balance: "true"},
		{q: `admin set all frontends config ("disable_balance" = "false")`, balance: "false"},
	} {
		t.Run(tc.q, func(t *testing.T) {
			_, err := execSQL(t, addr, tc.q)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("got %v, want an error with %q", err, tc.err)
			}
			if v, _ := c.FrontendConfig("disable_balance"); v != tc.balance {
				t.Fatalf("disable_balance %s after it, want %s", v, tc.balance)
			}
			if v, _ := c.FrontendConfig("disable_tablet_scheduler"); v != "false" {
				t.Fatalf("disable_tablet_scheduler %s after it", v)
			}
		})
	}
}
