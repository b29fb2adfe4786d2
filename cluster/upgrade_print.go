package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// PrintUpgradeReport writes r for a human (the node table, the counts, the
// flags, the record, the findings, the result) or, with asJSON, as one
// indented JSON document.
func PrintUpgradeReport(w io.Writer, r *UpgradeReport, asJSON bool) {
	if asJSON {
		b, _ := json.MarshalIndent(r, "", "  ")
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	if len(r.Nodes) > 0 {
		fmt.Fprintf(w, "cluster %s, as %s lists it:\n", r.ClusterID, r.AnsweredBy)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tHOST:PORT\tROLE\tVERSION\tALIVE\tDECOMMISSIONED")
		for _, n := range r.Nodes {
			dec := "-"
			if n.Kind != "fe" {
				dec = yes(n.Decommissioned)
			}
			ver := cmpOr(n.Version, "(none)")
			if n.VersionError != "" {
				ver += " (unparsable)"
			}
			fmt.Fprintf(tw, "%s\t%s:%d\t%s\t%s\t%s\t%s\n", n.Kind, n.Host, n.Port, cmpOr(n.Role, "-"), ver, yes(n.Alive), dec)
		}
		tw.Flush()
		fmt.Fprintf(w, "versions: %s\n", versionCounts(r.Versions))
		fmt.Fprintf(w, "followers: %d\n", r.Followers)
		if r.Partitions != nil {
			fmt.Fprintf(w, "single-replica partitions: %d", *r.Partitions)
			if len(r.SingleExamples) > 0 {
				fmt.Fprintf(w, " (%s", strings.Join(r.SingleExamples, ", "))
				if *r.Partitions > len(r.SingleExamples) {
					fmt.Fprint(w, ", …")
				}
				fmt.Fprint(w, ")")
			}
			fmt.Fprintln(w)
		}
	}
	master := r.Flags.Master
	if master != "" {
		master = " (" + master + ")"
	}
	fmt.Fprintf(w, "flags on the master%s: %s\n", master, r.Flags)
	fmt.Fprintf(w, "upgrade record: %s\n", r.Record)
	if r.Next != "" {
		fmt.Fprintf(w, "next: %s\n", r.Next)
	}
	for _, f := range r.Findings {
		fmt.Fprintf(w, "%-8s %s\n", strings.ToUpper(f.Level)+":", f.Text)
	}
	if r.Command == "check" && len(r.Nodes) > 0 {
		verdict := "safe"
		if !r.Safe {
			verdict = "NOT SAFE"
		}
		fmt.Fprintf(w, "verdict: %s\n", verdict)
	}
	fmt.Fprintln(w, r.Result)
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// versionCounts renders kind → version → count as "fe 3× doris-2.1.5; be
// 2× doris-2.1.5, 1× doris-2.1.7".
func versionCounts(m map[string]map[string]int) string {
	var parts []string
	for _, kind := range []string{"fe", "be", "cn"} {
		vs := m[kind]
		if len(vs) == 0 {
			continue
		}
		names := make([]string, 0, len(vs))
		for v := range vs {
			names = append(names, v)
		}
		sort.Strings(names)
		var each []string
		for _, v := range names {
			each = append(each, fmt.Sprintf("%d× %s", vs[v], v))
		}
		parts = append(parts, kind+" "+strings.Join(each, ", "))
	}
	return strings.Join(parts, "; ")
}

// UpgradeCommand is one `doris-entrypoint upgrade` subcommand and its
// flags.
type UpgradeCommand struct {
	Sub   string // check, begin, status, end
	To    string // --to VERSION (check, begin)
	Force bool   // --force (begin, end)
	JSON  bool   // --json
}

// UpgradeSubcommands are the subcommands Run knows.
var UpgradeSubcommands = []string{"check", "begin", "status", "end"}

// Run runs c, prints its report on stdout and returns the exit code: 0 when
// done (check: safe), 1 when not (check: not safe; refused; failed), 2 for
// a --to that is no version.
func (u *Upgrade) Run(ctx context.Context, c UpgradeCommand, stdout, stderr io.Writer) int {
	switch {
	case c.To != "" && c.Sub != "check" && c.Sub != "begin":
		fmt.Fprintf(stderr, "doris-entrypoint upgrade %s: --to is for check and begin\n", c.Sub)
		return 2
	case c.Force && c.Sub != "begin" && c.Sub != "end":
		fmt.Fprintf(stderr, "doris-entrypoint upgrade %s: --force is for begin and end\n", c.Sub)
		return 2
	}
	var to *Version
	if c.To != "" {
		v, err := ParseVersion(c.To)
		if err != nil {
			fmt.Fprintf(stderr, "doris-entrypoint upgrade %s: --to: %v\n", c.Sub, err)
			return 2
		}
		to = &v
	}
	var r *UpgradeReport
	switch c.Sub {
	case "check":
		r = u.Check(ctx, to)
	case "begin":
		r = u.Begin(ctx, to, c.Force)
	case "status":
		r = u.Status(ctx)
	case "end":
		r = u.End(ctx, c.Force)
	default:
		fmt.Fprintf(stderr, "doris-entrypoint upgrade: unknown subcommand %q (want %s)\n", c.Sub, strings.Join(UpgradeSubcommands, ", "))
		return 2
	}
	PrintUpgradeReport(stdout, r, c.JSON)
	if r.OK {
		return 0
	}
	return 1
}
