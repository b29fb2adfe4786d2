package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// FrontendMember checks that SHOW FRONTENDS on the FE at addr lists
// host:editLogPort with Alive and Join true.
func FrontendMember(ctx context.Context, c *Client, addr, host string, editLogPort int) error {
	fes, err := c.ShowFrontends(ctx, addr)
	if err != nil {
		return err
	}
	self := host + ":" + strconv.Itoa(editLogPort)
	for _, fe := range fes {
		if fe.Host != host || fe.EditLogPort != editLogPort {
			continue
		}
		switch {
		case !fe.Alive:
			return fmt.Errorf("SHOW FRONTENDS on %s lists %s with Alive=false", addr, self)
		case !fe.Join:
			return fmt.Errorf("SHOW FRONTENDS on %s lists %s with Join=false", addr, self)
		}
		return nil
	}
	return fmt.Errorf("SHOW FRONTENDS on %s does not list %s", addr, self)
}

// BackendMember checks that SHOW BACKENDS, asked of the first FE in addrs
// that answers, lists host:heartbeatPort with Alive true. Only FEs that
// cannot be reached are skipped: one query per call at most.
func BackendMember(ctx context.Context, c *Client, addrs []string, host string, heartbeatPort int) error {
	if len(addrs) == 0 {
		return errors.New("no FE address to ask")
	}
	self := host + ":" + strconv.Itoa(heartbeatPort)
	var errs []error
	for _, addr := range addrs {
		bes, err := c.ShowBackends(ctx, addr)
		if err != nil {
			errs = append(errs, err)
			if Answered(err) || ctx.Err() != nil {
				break
			}
			continue
		}
		for _, be := range bes {
			if be.Host == host && be.HeartbeatPort == heartbeatPort {
				if !be.Alive {
					return fmt.Errorf("SHOW BACKENDS on %s lists %s with Alive=false", addr, self)
				}
				return nil
			}
		}
		return fmt.Errorf("SHOW BACKENDS on %s does not list %s", addr, self)
	}
	return errors.Join(errs...)
}
