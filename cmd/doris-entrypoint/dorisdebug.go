package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/apache/doris-entrypoint/confpatch"
	"github.com/apache/doris-entrypoint/probes/holder"
	"github.com/apache/doris-entrypoint/supervisor/podinfo"
)

// runDorisDebug is `doris-debug --component fe|be` as the images' older
// entrypoint scripts call it before they start Doris: in debug mode it holds
// the component's liveness port (as the operator's doris-debug does, but
// speaking the port's protocol) and blocks until the annotation goes away or
// SIGTERM arrives; otherwise it returns 0 at once and the script goes on.
// Unlike the original, a missing conf means Doris's default port, not exit 1.
func runDorisDebug(args []string, getenv lookupEnv, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doris-debug", flag.ContinueOnError)
	comp := fs.String("component", "fe", "fe or be (ms is not supported: returns at once)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: doris-debug [--component fe|be]\n\n"+
			"In debug mode (annotation %s=debug in $%s/annotations), hold the component's liveness port\n"+
			"and block until the annotation is removed; otherwise return at once.\n\nFlags:\n", podinfo.KeyRunmode, envPodinfoDir.name)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	c, ok := components[*comp]
	if !ok {
		fmt.Fprintf(stdout, "doris-debug: component %q has no debug mode here; returning\n", *comp)
		return 0
	}
	dir := stringEnv(getenv, envPodinfoDir)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	w := podinfo.Watch(ctx, podinfo.WatchConfig{Dir: dir})
	if w.Current().Mode != podinfo.Debug {
		fmt.Fprintf(stdout, "doris-debug: no debug annotation (%s): returning\n", podinfo.KeyRunmode)
		return 0
	}
	conf := filepath.Join(dorisRootOf(getenv), c.conf)
	data, _ := os.ReadFile(conf) // missing: Doris's default port
	port, err := confpatch.PortValue(data, c.ports[0])
	if err != nil {
		fmt.Fprintf(stderr, "doris-debug: %s: %v\n", conf, err)
		return 1
	}
	msg := fmt.Sprintf("pod is in debug mode (annotation %s=debug): the %s is not running; "+
		"remove the annotation to leave debug mode", podinfo.KeyRunmode, strings.ToUpper(c.name))
	h, err := holder.Listen(port, c.hold, msg)
	if err != nil {
		fmt.Fprintf(stderr, "doris-debug: %v\n", err)
		return 1
	}
	defer h.Close()
	fmt.Fprintf(stdout, "doris-debug: debug mode, holding %s %d until the annotation is removed\n", c.ports[0].Key, port)
	for {
		select {
		case <-ctx.Done():
			return 0
		case st := <-w.Changes():
			if st.Mode != podinfo.Debug {
				fmt.Fprintln(stdout, "doris-debug: annotation removed: returning")
				return 0
			}
		}
	}
}
