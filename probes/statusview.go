package probes

import (
	"cmp"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/doris-entrypoint/supervisor/modes"
	"github.com/apache/doris-entrypoint/supervisor/podinfo"
)

// PrintStatus writes what `doris-entrypoint status` shows a person inside
// the pod: the supervisor's state file st, overlaid with its live /status
// ep when epErr is nil, and the next step.
func PrintStatus(stdout io.Writer, st modes.State, ep Status, epErr error) {
	if epErr == nil {
		// The endpoint is live; the file only adds the command and conf.
		st.Leave = ep.Leave
		st.Component, st.Mode, st.Phase, st.Since, st.Restarts, st.LastExit, st.Problem =
			ep.Component, ep.Mode, ep.Phase, ep.Since, ep.Restarts, ep.LastExit, ep.Problem
		st.ChildPID = ep.Child.PID
	}
	name := strings.ToUpper(st.Component)
	fmt.Fprintf(stdout, "component: %s\n", st.Component)
	if epErr == nil && ep.DorisVersion != "" {
		fmt.Fprintf(stdout, "doris:     %s\n", ep.DorisVersion)
	}
	fmt.Fprintf(stdout, "mode:      %s (since %s, %s)\n", st.Mode, st.Since.Format("2006-01-02T15:04:05Z"), st.Phase)
	if st.ChildPID > 0 {
		fmt.Fprintf(stdout, "child:     pid %d: %s\n", st.ChildPID, strings.Join(st.Command, " "))
	} else {
		fmt.Fprintf(stdout, "child:     none\n")
	}
	if st.Restarts > 0 || st.LastExit != nil {
		last := "none"
		if st.LastExit != nil {
			last = strconv.Itoa(*st.LastExit)
		}
		fmt.Fprintf(stdout, "restarts:  %d (last exit code %s)\n", st.Restarts, last)
	}
	for i, p := range st.Ports {
		label := "ports:    "
		if i > 0 {
			label = "          "
		}
		fmt.Fprintf(stdout, "%s %s %d → %d\n", label, p.Key, p.From, p.To)
	}
	fmt.Fprintf(stdout, "conf:      %s\n", st.Conf)
	if st.Marker != "" {
		fmt.Fprintf(stdout, "marker:    %s (the original conf, restored on leaving)\n", st.Marker)
	}
	if st.Problem != "" {
		fmt.Fprintf(stdout, "problem:   %s\n", st.Problem)
	}
	if st.Restored != "" {
		fmt.Fprintf(stdout, "restored:  %s\n", st.Restored)
	}
	if l := st.Leave; l != nil {
		fmt.Fprintf(stdout, "scale-in:  %s %s (ordinal %d, %d replicas)", l.Action, l.State, l.Ordinal, l.Replicas)
		if l.Action == "decommission" && l.State != "unsafe" {
			fmt.Fprintf(stdout, ": %d of %d tablets left, %.1f/s, eta %.0fs, budget left %.0fs", l.Tablets, l.Initial, l.RatePerSec, l.ETASeconds, l.BudgetLeft)
		}
		if l.Reason != "" {
			fmt.Fprintf(stdout, ": %s", l.Reason)
		}
		fmt.Fprintln(stdout)
	}
	if epErr != nil {
		fmt.Fprintf(stdout, "probes:    unknown (%v)\n", epErr)
	} else {
		for i, k := range []string{"live", "ready", "startup"} {
			label := "probes:   "
			if i > 0 {
				label = "          "
			}
			p := ep.Probes[k]
			fmt.Fprintf(stdout, "%s %-7s %s  %s\n", label, k, passFail(p.OK), p.Reason)
		}
		names := make([]string, 0, len(ep.Checks))
		for k := range ep.Checks {
			names = append(names, k)
		}
		sort.Strings(names)
		for i, k := range names {
			label := "checks:   "
			if i > 0 {
				label = "          "
			}
			c := ep.Checks[k]
			fmt.Fprintf(stdout, "%s %-10s %s  %.1fs ago, took %.0f ms  %s\n", label, k, passFail(c.OK), c.AgeSeconds, c.TookMillis, c.Reason)
		}
	}
	if st.Mode == "debug" {
		if len(st.Ports) > 0 {
			fmt.Fprintf(stdout, "next:      `doris-entrypoint debug run` starts the %s by hand on the moved ports (%s);\n", name, modes.MovedTo(st.Ports))
		} else {
			fmt.Fprintf(stdout, "next:      `doris-entrypoint debug run` refuses: %s;\n", modes.NotMovedNote(st.Component, "see problem"))
		}
		fmt.Fprintf(stdout, "           to leave: kubectl annotate pod <this pod> %s- (the annotation that set debug mode)\n", cmp.Or(st.RunmodeKey, podinfo.KeyRunmode))
	} else {
		fmt.Fprintf(stdout, "next:      to debug: kubectl annotate pod <this pod> %s=debug\n", podinfo.KeyRunmode)
	}
}

func passFail(ok bool) string {
	if ok {
		return "ok  "
	}
	return "FAIL"
}
