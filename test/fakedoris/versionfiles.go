package fakedoris

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// The files a Doris build reports its version in, for the stand-in images
// (images/standin/build.sh): the FE's fe/lib/doris-fe.jar holds
// org/apache/doris/common/Version.class, whose String constants
// DORIS_BUILD_VERSION_PREFIX, DORIS_BUILD_VERSION and DORIS_BUILD_SHORT_HASH
// are generated at build time (apache/doris gensrc/script/gen_build_version.sh);
// the BE's be/lib/doris_be prints one line for --version
// (be/src/util/version_util.cpp get_build_version). cluster/upgrade_order.go
// reads both.

// OwnVersion is the version a fake node reports: $FAKE_DORIS_VERSION (the
// stand-in image sets it to its DORIS_VERSION), else DefaultVersion.
func OwnVersion() string {
	if v := os.Getenv("FAKE_DORIS_VERSION"); v != "" {
		return v
	}
	return DefaultVersion
}

var reShortHash = regexp.MustCompile(`^[0-9a-f]{7,40}$`)

// reNumbers finds MAJOR.MINOR.PATCH[.HOTFIX] after the prefix's words.
var reNumbers = regexp.MustCompile(`^((?:[A-Za-z][A-Za-z0-9]*-)*)(\d+)\.(\d+)(?:\.(\d+))?(?:\.\d+)?(?:-(.*))?$`)

// SplitVersion cuts a Version column value ("doris-2.1.5-rc02-d5a02e095d")
// into Version.java's DORIS_BUILD_VERSION_PREFIX ("doris"; the words before
// the numbers, "doris" when there are none), DORIS_BUILD_VERSION
// ("doris-2.1.5-rc02": apache/doris gensrc/script/gen_build_version.sh
// builds it as "${build_version_prefix}-${major}.${minor}.${patch}-${rc}",
// the prefix included) and DORIS_BUILD_SHORT_HASH ("d5a02e095d", "" when
// the last part is not a git hash).
func SplitVersion(v string) (prefix, version, hash string) {
	version = v
	if i := strings.LastIndexByte(version, '-'); i > 0 && reShortHash.MatchString(version[i+1:]) {
		version, hash = version[:i], version[i+1:]
	}
	prefix = "doris"
	if m := reNumbers.FindStringSubmatch(version); m != nil {
		if m[1] == "" {
			version = prefix + "-" + version
		} else {
			prefix = strings.TrimSuffix(m[1], "-")
		}
	}
	return prefix, version, hash
}

// versionComment is @@version_comment as a Doris 2.1 FE answers it
// (fe/fe-core/src/main/java/org/apache/doris/qe/GlobalVariable.java:
// "Doris version " + DORIS_BUILD_VERSION + "-" + DORIS_BUILD_SHORT_HASH,
// so "Doris version doris-2.1.5-rc02-d5a02e095d").
func versionComment(v string) string {
	_, ver, hash := SplitVersion(v)
	if hash != "" {
		ver += "-" + hash
	}
	return "Doris version " + ver
}

// versionFromComment is the Version column value for a @@version_comment:
// what SHOW FRONTENDS shows after a heartbeat, DORIS_BUILD_VERSION + "-" +
// DORIS_BUILD_SHORT_HASH (fe/fe-core/src/main/java/org/apache/doris/service/FrontendServiceImpl.java
// ping). Newer FEs answer "<prefix> version …" (GlobalVariable.java on master).
func versionFromComment(c string) string {
	if _, v, ok := strings.Cut(c, " version "); ok {
		return strings.TrimSuffix(v, " (Cloud Mode)")
	}
	return c
}

// VersionClass is a valid class file (major 52, Java 8) of
// org.apache.doris.common.Version with the constants a real build's has
// for v (public static final, with a ConstantValue attribute, as javac
// writes them) and no methods: for a 2.1.5 build DORIS_BUILD_VERSION_PREFIX
// "doris", DORIS_BUILD_VERSION "doris-2.1.5-rc02" (the prefix included),
// DORIS_BUILD_SHORT_HASH "d5a02e095d".
func VersionClass(v string) []byte {
	prefix, ver, hash := SplitVersion(v)
	var pool bytes.Buffer
	n := uint16(1) // constant pool indexes start at 1
	u2 := func(w *bytes.Buffer, x uint16) { binary.Write(w, binary.BigEndian, x) }
	utf8 := func(s string) uint16 {
		pool.WriteByte(1) // CONSTANT_Utf8
		u2(&pool, uint16(len(s)))
		pool.WriteString(s)
		n++
		return n - 1
	}
	class := func(name string) uint16 {
		u := utf8(name)
		pool.WriteByte(7) // CONSTANT_Class
		u2(&pool, u)
		n++
		return n - 1
	}
	str := func(s string) uint16 {
		u := utf8(s)
		pool.WriteByte(8) // CONSTANT_String
		u2(&pool, u)
		n++
		return n - 1
	}
	this, super := class("org/apache/doris/common/Version"), class("java/lang/Object")
	cv, desc := utf8("ConstantValue"), utf8("Ljava/lang/String;")
	type field struct{ name, value, desc uint16 }
	var fields []field
	integer := func(x int) uint16 {
		pool.WriteByte(3) // CONSTANT_Integer
		binary.Write(&pool, binary.BigEndian, int32(x))
		n++
		return n - 1
	}
	idesc := utf8("I")
	// The fields gen_build_version.sh writes into Version.java, in its
	// order (the build's time and host left out).
	var major, minor, patch int
	rc := ""
	if m := reNumbers.FindStringSubmatch(ver); m != nil {
		major, _ = strconv.Atoi(m[2])
		minor, _ = strconv.Atoi(m[3])
		patch, _ = strconv.Atoi(m[4])
		rc = m[5]
	}
	fields = append(fields, field{utf8("DORIS_BUILD_VERSION_PREFIX"), str(prefix), desc})
	for _, kv := range []struct {
		name string
		v    int
	}{{"DORIS_BUILD_VERSION_MAJOR", major}, {"DORIS_BUILD_VERSION_MINOR", minor}, {"DORIS_BUILD_VERSION_PATCH", patch}} {
		fields = append(fields, field{utf8(kv.name), integer(kv.v), idesc})
	}
	for _, kv := range [][2]string{{"DORIS_BUILD_VERSION_RC_VERSION", rc}, {"DORIS_BUILD_VERSION", ver},
		{"DORIS_BUILD_HASH", "git://doris-standin@" + hash}, {"DORIS_BUILD_SHORT_HASH", hash}} {
		fields = append(fields, field{utf8(kv[0]), str(kv[1]), desc})
	}
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(0xCAFEBABE))
	u2(&b, 0)  // minor
	u2(&b, 52) // major: Java 8
	u2(&b, n)  // constant_pool_count
	b.Write(pool.Bytes())
	u2(&b, 0x21) // ACC_PUBLIC | ACC_SUPER
	u2(&b, this)
	u2(&b, super)
	u2(&b, 0) // interfaces
	u2(&b, uint16(len(fields)))
	for _, f := range fields {
		u2(&b, 0x19) // ACC_PUBLIC | ACC_STATIC | ACC_FINAL
		u2(&b, f.name)
		u2(&b, f.desc)
		u2(&b, 1) // one attribute: ConstantValue
		u2(&b, cv)
		binary.Write(&b, binary.BigEndian, uint32(2))
		u2(&b, f.value)
	}
	u2(&b, 0) // methods
	u2(&b, 0) // attributes
	return b.Bytes()
}

// WriteFEJar writes path (fe/lib/doris-fe.jar) as a jar holding a manifest
// and Version.class for v.
func WriteFEJar(path, v string) error {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"META-INF/MANIFEST.MF", []byte("Manifest-Version: 1.0\r\nCreated-By: doris-entrypoint stand-in\r\n\r\n")},
		{"org/apache/doris/common/Version.class", VersionClass(v)},
	} {
		w, err := zw.Create(f.name)
		if err != nil {
			return err
		}
		if _, err := w.Write(f.data); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return writeFileAtomic(path, buf.Bytes())
}

// BEVersionLine is the first line doris_be --version prints for v:
// doris_build_version() (prefix-version), the CPU flavour, RELEASE, and the
// build's hash ("doris-2.1.5-rc02(AVX2) RELEASE (build git://…@d5a02e095d)").
func BEVersionLine(v string) string {
	_, ver, hash := SplitVersion(v)
	if hash == "" {
		hash = "unknown"
	}
	return ver + "(AVX2) RELEASE (build git://doris-standin@" + hash + ")"
}
