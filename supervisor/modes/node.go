package modes

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/confpatch"
	"github.com/apache/doris-entrypoint/supervisor"
	"github.com/apache/doris-entrypoint/supervisor/modes/holder"
	"github.com/apache/doris-entrypoint/supervisor/podinfo"
)

// ForNode is the Component of a Doris node: its start script in DORIS_ROOT,
// its conf and debug ports from the cluster.Component row, the holder that
// speaks its liveness port's protocol, prepare as Prepare (a workload-group
// failure is fatal, as in be_entrypoint.sh) and the node's bootstrap.
func ForNode(node *cluster.Node, prepare confpatch.Prepare) Component {
	c := node.Component
	hold := holder.AcceptClose
	if c.MySQLLiveness {
		hold = holder.MySQL
	}
	return Component{
		Name:    c.Name,
		Command: supervisor.Command{Path: filepath.Join(node.Root, c.Script), Args: c.Args, Dir: node.Root},
		Conf:    node.ConfPath(),
		Ports:   c.DebugPorts(),
		Listens: c.Listens,
		Hold:    hold,
		PIDFile: filepath.Join(node.Root, c.PIDFile),
		Prepare: func() error {
			err := prepare.Run()
			if errors.Is(err, confpatch.ErrWorkloadGroup) {
				return fmt.Errorf("%w: %w", ErrFatal, err)
			}
			return err
		},
		Bootstrap: func(ctx context.Context, st podinfo.State) ([]string, error) {
			return node.Bootstrap(ctx, st.Annotations)
		},
		BeforeStop: func(ctx context.Context, report func(cluster.Progress)) bool {
			return reporting(node, report).BeforeStop(ctx)
		},
		AfterStop: func(ctx context.Context, report func(cluster.Progress)) { reporting(node, report).AfterStop(ctx) },
		DebugStop: func(ctx context.Context, report func(cluster.Progress)) { reporting(node, report).AfterDebugStop(ctx) },
	}
}

// reporting is node with its leave progress going to report.
func reporting(node *cluster.Node, report func(cluster.Progress)) *cluster.Node {
	n := *node
	l := cluster.Leave{}
	if node.Leave != nil {
		l = *node.Leave
	}
	l.Report = report
	n.Leave = &l
	return &n
}
