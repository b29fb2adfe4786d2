package cluster

import (
	"context"
	"errors"
	"net"
)

// unreachableError is a connection to an FE that was never accepted: the
// dial failed (refused, timed out, no such host). Every other failure came
// after an FE accepted the connection.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

// dial is the client's dial function: it marks a failed dial, so that
// Reached can tell it from every failure after the FE accepted.
func dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, &unreachableError{err}
	}
	return c, nil
}

// Reached says an FE accepted the connection err is about: it answered
// with an error packet (Doris' "Node catalog is not ready" while it
// elects), refused the account, sent a result this client cannot read (no
// IsMaster/Host column) or cut the connection mid-answer. Only its opposite,
// no FE accepting a connection at all, may let FE ordinal 0 bootstrap a new
// cluster: an FE that answers in any way is a cluster that exists.
func Reached(err error) bool {
	return err != nil && !errors.As(err, new(*unreachableError))
}
