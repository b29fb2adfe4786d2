package cluster

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Version is a Doris release as the Version column of SHOW FRONTENDS and
// SHOW BACKENDS reports it: the build's prefix ("doris"; a vendor's build
// has its own, e.g. "selectdb"), "-", MAJOR.MINOR.PATCH[.HOTFIX], and the
// release candidate and commit (apache/doris gensrc/script/gen_build_version.sh),
// e.g. "doris-2.1.5-rc02-d5a02e095d", "doris-3.0.3", "doris-1.2.7.1".
type Version struct {
	Raw                         string `json:"raw"`
	Major, Minor, Patch, Hotfix int    `json:"-"`
	Suffix                      string `json:"-"` // "rc02-d5a02e095d"
}

// reVersion reads a Version: words, then two to four numbers, then a suffix
// of letters, digits, '.', '-' and '_'.
var reVersion = regexp.MustCompile(`^(?:[A-Za-z][A-Za-z0-9]*-)*(\d{1,4})\.(\d{1,4})(?:\.(\d{1,4}))?(?:\.(\d{1,4}))?(?:-([A-Za-z0-9][A-Za-z0-9._-]*))?$`)

// ParseVersion reads a Version column; an empty or unreadable one is an
// error that quotes it (at most 64 bytes of it).
func ParseVersion(s string) (Version, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Version{}, fmt.Errorf("no version reported (empty Version column)")
	}
	m := reVersion.FindStringSubmatch(s)
	if len(s) > 128 || m == nil {
		q := s
		if len(q) > 64 {
			q = q[:64] + "…"
		}
		return Version{}, fmt.Errorf("unparsable Doris version %q (want e.g. doris-2.1.5 or doris-2.1.5-rc02-d5a02e095d)", q)
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	return Version{Raw: s, Major: n(1), Minor: n(2), Patch: n(3), Hotfix: n(4), Suffix: m[5]}, nil
}

func (v Version) String() string { return v.Raw }

// Line is the feature release ("2.1"): patch releases of one line may be
// skipped, lines may not.
func (v Version) Line() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Number is the release without build details ("2.1.5", "1.2.7.1").
func (v Version) Number() string {
	if v.Hotfix > 0 {
		return fmt.Sprintf("%d.%d.%d.%d", v.Major, v.Minor, v.Patch, v.Hotfix)
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// Dev says a build from a development branch ("doris-0.0.0-trunk-…"): its
// numbers say nothing about a path.
func (v Version) Dev() bool { return v.Major == 0 && v.Minor == 0 }

// Compare orders by the numbers only (-1, 0, 1); the suffix (release
// candidate, commit) is not ordered.
func (v Version) Compare(o Version) int {
	for _, d := range [][2]int{{v.Major, o.Major}, {v.Minor, o.Minor}, {v.Patch, o.Patch}, {v.Hotfix, o.Hotfix}} {
		switch {
		case d[0] < d[1]:
			return -1
		case d[0] > d[1]:
			return 1
		}
	}
	return 0
}

// CompareLine orders by the line only.
func (v Version) CompareLine(o Version) int {
	return Version{Major: v.Major, Minor: v.Minor}.Compare(Version{Major: o.Major, Minor: o.Minor})
}

// keyLines are the feature releases in order, each of which an upgrade must
// pass through (the manual: "do not upgrade across two second-level
// versions", 0.15 → 1.1 → 1.2 → 2.0; 3.x: 3.0 → 3.1 → 3.2 → 3.3;
// apache/doris-website docs/admin-manual/cluster-management/upgrade.md).
// There was no 1.0. Lines after the last one here follow the same rule.
var keyLines = []string{"0.12", "0.13", "0.14", "0.15", "1.1", "1.2", "2.0", "2.1", "3.0", "3.1"}

func lineIndex(line string) int {
	for i, l := range keyLines {
		if l == line {
			return i
		}
	}
	return -1
}

// UpgradePath judges going from from to to: "" when allowed, else why not.
// Patch releases of one line may be skipped; a feature line may not (3.0 →
// 3.2 skips 3.1; 1.1 → 2.0 skips 1.2); a newer major goes to its first line
// (x.0, or 1.1 from 0.15); a downgrade is refused. Development builds are not
// judged (the caller warns).
func UpgradePath(from, to Version) string {
	switch c := to.Compare(from); {
	case c < 0:
		return fmt.Sprintf("%s → %s is a downgrade", from.Number(), to.Number())
	case to.Line() == from.Line():
		return ""
	}
	var skipped []string
	fi, ti := lineIndex(from.Line()), lineIndex(to.Line())
	switch {
	case fi >= 0 && ti >= 0:
		skipped = keyLines[fi+1 : ti]
	case to.Major == from.Major:
		for m := from.Minor + 1; m < to.Minor; m++ {
			skipped = append(skipped, fmt.Sprintf("%d.%d", to.Major, m))
		}
	case to.Major == from.Major+1 && to.Minor != 0:
		for m := 0; m < to.Minor; m++ {
			skipped = append(skipped, fmt.Sprintf("%d.%d", to.Major, m))
		}
	case to.Major > from.Major+1:
		for m := from.Major + 1; m < to.Major; m++ {
			skipped = append(skipped, fmt.Sprintf("%d.x", m))
		}
	}
	if len(skipped) == 0 {
		return ""
	}
	return fmt.Sprintf("%s → %s skips %s: upgrade through %s first (patch releases of one line may be skipped, lines may not)",
		from.Line(), to.Line(), strings.Join(skipped, ", "), strings.Join(skipped, " → "))
}
