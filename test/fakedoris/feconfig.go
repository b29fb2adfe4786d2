package fakedoris

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
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

// otherConfigs are mutable FE configs of Doris' Config.java that the fake
// accepts and ignores, with their Java types (apache/doris
// fe/fe-common/src/main/java/org/apache/doris/common/Config.java); a key
// that is neither these nor configDefaults' does not exist for the fake.
var otherConfigs = map[string]string{
	"max_bytes_per_broker_scanner": "long", // mutable, masterOnly
}

// setConfig applies ADMIN SET FRONTEND CONFIG ("key" = "value") with
// Doris' refusals: exactly one pair (AdminSetConfigStmt / apache/doris
// fe/fe-core/src/main/java/org/apache/doris/nereids/trees/plans/commands/AdminSetFrontendConfigCommand.java
// validate: "config parameter size is not equal to 1"), a key that exists
// ("Config 'k' does not exist") and a value of its type ("Failed to set
// config 'k'. err: type mismatch" for a boolean that is not true or false
// in any case; Java's NumberFormatException text for a number), as
// apache/doris fe/fe-common/src/main/java/org/apache/doris/common/ConfigBase.java
// setMutableConfig / setConfigField / isBoolean do.
func (c *Cluster) setConfig(props string) error {
	pairs := reConfigPair.FindAllStringSubmatch(props, -1)
	if len(pairs) != 1 {
		return errors.New("config parameter size is not equal to 1")
	}
	key, val := pairs[0][1]+pairs[0][2], strings.TrimSpace(pairs[0][3]+pairs[0][4])
	c.mu.Lock()
	defer c.mu.Unlock()
	typ := otherConfigs[key]
	if _, ok := c.config[key]; ok {
		typ = "boolean"
	}
	switch typ {
	case "":
		return fmt.Errorf("Config '%s' does not exist", key)
	case "boolean":
		if !strings.EqualFold(val, "true") && !strings.EqualFold(val, "false") {
			return fmt.Errorf("Failed to set config '%s'. err: type mismatch", key)
		}
		if _, ok := c.config[key]; ok {
			c.config[key] = strings.EqualFold(val, "true")
		}
	case "int", "long":
		bits := 32
		if typ == "long" {
			bits = 64
		}
		if _, err := strconv.ParseInt(val, 10, bits); err != nil {
			return fmt.Errorf("Failed to set config '%s'. err: For input string: \"%s\"", key, val)
		}
	case "double":
		if _, err := strconv.ParseFloat(val, 64); err != nil {
			return fmt.Errorf("Failed to set config '%s'. err: For input string: \"%s\"", key, val)
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
