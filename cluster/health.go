package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
)

// FrontendHealthy judges an FE's /api/health body: code 0
// (apache/doris fe/fe-core/src/main/java/org/apache/doris/httpv2/rest/HealthAction.java).
// The status code alone is what the operator's httpGet checks; an FE that is
// not ready answers another code.
func FrontendHealthy(body []byte) error {
	var b struct {
		Code *int   `json:"code"`
		Msg  string `json:"msg"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return fmt.Errorf("not the health JSON: %w", err)
	}
	switch {
	case b.Code == nil:
		return errors.New("no code in the answer")
	case *b.Code != 0:
		return fmt.Errorf("code %d: %.100s", *b.Code, b.Msg)
	}
	return nil
}

// BackendHealthy judges a BE's /api/health body: status "OK"
// (apache/doris be/src/http/action/health_action.cpp).
func BackendHealthy(body []byte) error {
	var b struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return fmt.Errorf("not the health JSON: %w", err)
	}
	if b.Status != "OK" {
		return fmt.Errorf("status %.40q, want \"OK\"", b.Status)
	}
	return nil
}
