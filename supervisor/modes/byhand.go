package modes

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/apache/doris-entrypoint/confpatch"
	"github.com/apache/doris-entrypoint/supervisor/earlystart"
	"github.com/apache/doris-entrypoint/supervisor/modes/holder"
	"github.com/apache/doris-entrypoint/supervisor/podinfo"
)

// HoldWhileDebug is the `doris-debug` hook the images' older entrypoint
// scripts call before they start Doris: in debug mode (the annotations in
// podinfoDir) it holds c's liveness port, as the operator's doris-debug
// does but speaking the port's protocol, and returns once the annotation
// goes away or ctx ends; otherwise it returns at once and the script goes
// on. Unlike the original, a missing conf means Doris's default port, not a
// failure. Progress goes to out.
func HoldWhileDebug(ctx context.Context, podinfoDir string, c Component, out io.Writer) error {
	w := podinfo.Watch(ctx, podinfo.WatchConfig{Dir: podinfoDir})
	if w.Current().Mode != podinfo.Debug {
		fmt.Fprintf(out, "doris-debug: no debug annotation (%s): returning\n", podinfo.KeyRunmode)
		return nil
	}
	data, _ := os.ReadFile(c.Conf) // missing: Doris's default port
	port, err := confpatch.SyntaxOf(c.Conf).PortValue(data, c.Ports[0])
	if err != nil {
		return fmt.Errorf("%s: %w", c.Conf, err)
	}
	h, err := holder.Listen(port, c.Hold, holdMessage(c.Name, cmp.Or(w.Current().RunmodeKey, podinfo.KeyRunmode)))
	if err != nil {
		return err
	}
	defer h.Close()
	fmt.Fprintf(out, "doris-debug: debug mode, holding %s %d until the annotation is removed\n", c.Ports[0].Key, port)
	for {
		select {
		case <-ctx.Done():
			return nil
		case st := <-w.Changes():
			if st.Mode != podinfo.Debug {
				fmt.Fprintln(out, "doris-debug: annotation removed: returning")
				return nil
			}
		}
	}
}

// ExecFailed is DebugRun's error when the exec itself failed.
type ExecFailed struct{ Err error }

func (e *ExecFailed) Error() string { return e.Err.Error() }
func (e *ExecFailed) Unwrap() error { return e.Err }

// DebugRun is `doris-entrypoint debug run`: in debug mode (the state file
// of the running supervisor says so) it replaces the calling process with
// the component's command, in its directory, on the moved ports. It
// refuses when the ports could not be moved: the component would start on
// its own ports, one of which the supervisor holds, and its HTTP port
// would pass the readiness probe. It returns only on failure: a refusal,
// or an [ExecFailed].
func DebugRun(stateFile string, out io.Writer) error {
	st, err := ReadState(stateFile)
	if err != nil {
		return fmt.Errorf("no supervisor state (%w)", err)
	}
	if st.Mode != "debug" {
		return fmt.Errorf("the pod is in %s mode; refusing (annotate it with %s=debug first)", st.Mode, podinfo.KeyRunmode)
	}
	if len(st.Ports) == 0 {
		return fmt.Errorf("refusing: %s", NotMovedNote(st.Component, cmp.Or(st.Problem, "no reason recorded")))
	}
	if err := os.Chdir(st.Dir); err != nil {
		return err
	}
	fmt.Fprintf(out, "starting %s on the moved ports (%s): %s\n", st.Component, MovedTo(st.Ports), strings.Join(st.Command, " "))
	err = earlystart.StartChild(func() error { return syscall.Exec(st.Command[0], st.Command, os.Environ()) })
	return &ExecFailed{fmt.Errorf("exec %s: %w", st.Command[0], err)}
}

// MovedTo lists where the ports were moved: "query_port 19030, http_port
// 18030".
func MovedTo(moved []confpatch.Moved) string {
	var out []string
	for _, mv := range moved {
		out = append(out, fmt.Sprintf("%s %d", mv.Key, mv.To))
	}
	return strings.Join(out, ", ")
}

// NotMovedNote says what `debug run` would do for component in debug mode
// without moved ports; why is the reason they were not.
func NotMovedNote(component, why string) string {
	return fmt.Sprintf("the ports were not moved (%s), so the %s would start on its own ports: the supervisor holds its "+
		"liveness port and its HTTP port would make the pod Ready; fix the cause, then enter debug mode again "+
		"(remove the annotation and set it)", why, strings.ToUpper(component))
}
