package fakedoris

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// The master-only FE configs the fake knows, with their defaults: the
// three an upgrade turns off and on (disable_balance,
// disable_colocate_balance, disable_tablet_scheduler) and
// drop_backend_after_decommission. ADMIN SET FRONTEND CONFIG keeps them in
// the master's memory only: a master change or restart loses them
// (SetMaster, RestartMaster).
var configDefaults = map[string]bool{
	"disable_balance":                 false,
	"disable_colocate_balance":        false,
	"disable_tablet_scheduler":        false,
	"drop_backend_after_decommission": true,
}

func defaultConfig() map[string]bool {
	m := make(map[string]bool, len(configDefaults))
	for k, v := range configDefaults {
		m[k] = v
	}
	return m
}

// FrontendConfig returns the value of one of the configs above ("true" or
// "false"), and false for a key the fake does not know.
func (c *Cluster) FrontendConfig(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.config[key]
	if !ok {
		return "", false
	}
	return tf(v), true
}

// SetFrontendConfig sets one of the configs above, as ADMIN SET FRONTEND
// CONFIG does.
func (c *Cluster) SetFrontendConfig(key string, v bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked()
	if _, ok := c.config[key]; ok {
		c.config[key] = v
	}
}

// RestartMaster plays the master FE restarting: the configs set by ADMIN
// SET FRONTEND CONFIG are back to their defaults.
func (c *Cluster) RestartMaster() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked()
	c.config = defaultConfig()
}

var (
	reShowConfig = regexp.MustCompile(`(?is)^(?:ADMIN\s+)?SHOW\s+FRONTEND\s+CONFIG(?:\s+LIKE\s+(?:'([^']*)'|"([^"]*)"))?$`)
	reSetConfig  = regexp.MustCompile(`(?is)^ADMIN\s+SET\s+(?:ALL\s+)?FRONTENDS?\s+CONFIG\s*\((.*)\)$`)
	reConfigPair = regexp.MustCompile(`\s*(?:"([^"]*)"|'([^']*)')\s*=\s*(?:"([^"]*)"|'([^']*)')\s*(?:,|$)`)
)

// setConfig applies ADMIN SET FRONTEND CONFIG ("key" = "value"): a known
// boolean takes true or false (any case), as ConfigBase.setConfigField
// does; other keys are accepted and ignored.
func (c *Cluster) setConfig(props string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range reConfigPair.FindAllStringSubmatch(props, -1) {
		key, val := m[1]+m[2], m[3]+m[4]
		if _, ok := c.config[key]; !ok {
			continue
		}
		switch strings.ToLower(val) {
		case "true":
			c.config[key] = true
		case "false":
			c.config[key] = false
		default:
			return fmt.Errorf("Failed to set config '%s'. err: type mismatch", key)
		}
	}
	return nil
}

// configRows answers SHOW FRONTEND CONFIG [LIKE 'pattern'] with the titles
// of apache/doris fe/fe-core/src/main/java/org/apache/doris/analysis/ShowConfigStmt.java
// (FE_TITLE_NAMES), sorted by key.
func (c *Cluster) configRows(pattern string, like bool) ([]string, [][]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var keys []string
	for k := range c.config {
		if !like || likeMatch(pattern, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var rows [][]any
	for _, k := range keys {
		rows = append(rows, []any{k, tf(c.config[k]), "boolean", "true", "true", ""})
	}
	return []string{"Key", "Value", "Type", "IsMutable", "MasterOnly", "Comment"}, rows
}

// likeMatch is SQL LIKE without escapes, case-insensitive: % any run, _
// one character.
func likeMatch(pattern, s string) bool {
	var re strings.Builder
	re.WriteString("(?is)^")
	for _, r := range pattern {
		switch r {
		case '%':
			re.WriteString(".*")
		case '_':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re.WriteString("$")
	ok, _ := regexp.MatchString(re.String(), s)
	return ok
}
