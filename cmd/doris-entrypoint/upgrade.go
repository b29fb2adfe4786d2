package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/apache/doris-entrypoint/cluster"
	"github.com/apache/doris-entrypoint/supervisor/modes"
	"github.com/apache/doris-entrypoint/supervisor/podinfo"
	"github.com/apache/doris-entrypoint/supervisor/podinfo/kubeapi"
)

const upgradeUsage = `Usage: doris-entrypoint upgrade check|begin|status|end [flags]

The seed's upgrade, from inside any FE/BE/CN pod (kubectl exec):
  check   every FE/BE/CN with role, version, alive, decommissioned; single-replica
          partitions, followers, the version path (--to): exit 0 safe, 1 not
  begin   the check, then the upgrade record and the three balance flags on the
          master; the FE supervisors keep them on until end
  status  versions per kind, the flags on the master, the record, what runs next
  end     every node alive and on one version, then the flags off, the record gone

Flags:
`

// runUpgrade is `doris-entrypoint upgrade …` (cluster/upgrade.go).
func runUpgrade(args []string, getenv lookupEnv, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("upgrade", flag.ContinueOnError)
	to := fs.String("to", "", "check, begin: the version to upgrade to, e.g. doris-2.1.7 (refuses a path that skips a feature line)")
	force := fs.Bool("force", false, "begin: despite an unsafe check; end: despite nodes not alive or on other versions")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	fe := fs.String("fe", "", "the FEs to ask, host[:port],… (default: ENV_FE_ADDR)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), upgradeUsage)
		fs.PrintDefaults()
		printEnv(fs.Output(), inUpgrade, 0)
	}
	sub := ""
	if len(args) > 0 && slices.Contains(cluster.UpgradeSubcommands, args[0]) {
		sub, args = args[0], args[1:]
	}
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if sub == "" || fs.NArg() > 0 {
		fs.SetOutput(stderr)
		fs.Usage()
		return exitUsage
	}
	s, ok := settingsFor("upgrade", inUpgrade, 0, getenv, stderr)
	if !ok {
		return exitUsage
	}
	if err := s.checkAdmin(cluster.BasicAuthDir); err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint upgrade: %v\n", err)
		return exitUsage
	}
	addrs, ok := s.feAddrs("upgrade", *fe, stderr)
	if !ok {
		return exitUsage
	}
	kc, err := kubeapi.New(kubeapi.Config{Mode: s.Kube, Namespace: s.PodNamespace, Name: s.PodName})
	if err != nil {
		fmt.Fprintf(stderr, "doris-entrypoint upgrade: no API access: %v\n", err)
	}
	var records cluster.UpgradeRecords
	if kc != nil {
		records = kc
		defer kc.Flush(5 * time.Second)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	u := &cluster.Upgrade{FEAddrs: addrs, Records: records, Event: kc.Event, Pod: s.PodName,
		Client: s.client()}
	return u.Run(ctx, cluster.UpgradeCommand{Sub: sub, To: *to, Force: *force, JSON: *asJSON}, stdout, stderr)
}

// withUpgradeOrder runs the upgrade order guard (cluster.UpgradeOrder)
// after comp's bootstrap, before every start: Events through the API
// client kube holds by then.
func withUpgradeOrder(comp modes.Component, o *cluster.UpgradeOrder, kube *atomic.Pointer[kubeapi.Client]) modes.Component {
	bootstrap := comp.Bootstrap
	comp.Bootstrap = func(ctx context.Context, st podinfo.State) ([]string, error) {
		var args []string
		if bootstrap != nil {
			var err error
			if args, err = bootstrap(ctx, st); err != nil {
				return args, err
			}
		}
		if kc := kube.Load(); kc != nil {
			o.Records, o.Event = kc, kc.Event
		}
		return args, o.BeforeStart(ctx)
	}
	return comp
}

// startUpgradeGuard runs the upgrade guard of an FE supervisor
// (cluster.UpgradeGuard) in the background; without API access there is no
// record to read.
func startUpgradeGuard(ctx context.Context, node *cluster.Node, kc *kubeapi.Client, interval time.Duration) {
	if kc != nil {
		go (&cluster.UpgradeGuard{Node: node, Records: kc, Event: kc.Event, Interval: interval}).Run(ctx)
	}
}

// kubeRecords keeps the records (upgrade, scale-in) through the API client
// kube holds once it is started; before that, and without API access, there
// is no place for them (cluster.ErrNoRecords).
type kubeRecords struct {
	kube *atomic.Pointer[kubeapi.Client]
}

func (r kubeRecords) GetUpgrade(ctx context.Context, key string) (string, bool, error) {
	return r.kube.Load().GetUpgrade(ctx, key)
}

func (r kubeRecords) PutUpgrade(ctx context.Context, key, data string) error {
	return r.kube.Load().PutUpgrade(ctx, key, data)
}

func (r kubeRecords) DeleteUpgrade(ctx context.Context, key string) error {
	return r.kube.Load().DeleteUpgrade(ctx, key)
}
