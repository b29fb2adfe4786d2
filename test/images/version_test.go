package images_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/doris-entrypoint/test/fakedoris"
	"github.com/apache/doris-entrypoint/test/internal/harness"
)

// The stand-in images report their Doris version as a real build does:
// doris-entrypoint's own detection (fe/lib/doris-fe.jar's Version.class,
// be/lib/doris_be --version) shows it in `status`, and the fake FE and BE
// show it in SHOW FRONTENDS / SHOW BACKENDS, asked with the image's own
// mysql client. The images of this run have the default version; a second
// tag built with DORIS_VERSION reports that one.
func TestImagesReportVersion(t *testing.T) {
	const other = "doris-2.1.6-rc01-0123456789"
	v2 := tag + "-v2"
	dir := t.TempDir()
	bin, err := harness.Build(dir, "github.com/apache/doris-entrypoint/cmd/doris-entrypoint", "doris-entrypoint", harness.EntrypointLDFlags())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", filepath.Join(repoRoot, "images", "standin", "build.sh"), bin, v2)
	cmd.Env = append(podmanEnv, "DORIS_VERSION="+other)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		podman(t, "rmi", "-f", "localhost/doris-entrypoint-fe:"+v2, "localhost/doris-entrypoint-be:"+v2,
			"localhost/doris-entrypoint-broker:"+v2, "localhost/doris-standin:"+v2)
	})
	for _, tt := range []struct{ tag, version, be string }{
		{tag, fakedoris.DefaultVersion, "doris-2.1.5-rc02"},
		{v2, other, "doris-2.1.6-rc01"},
	} {
		t.Run(tt.version, func(t *testing.T) {
			n := newNetwork(t)
			fe := runTag(t, n, "fe", tt.tag, nil)
			fe.waitProbe(t, "/readyz", 200)
			be := runTag(t, n, "be", tt.tag, nil)
			be.waitProbe(t, "/readyz", 200)
			for _, c := range []struct {
				ctr  *ctr
				want string
			}{{fe, tt.version}, {be, tt.version}} {
				// The BE image is built on the same stand-in: its jar is
				// read first, as in an image with both.
				if out := mustPodman(t, "exec", c.ctr.name, "doris-entrypoint", "status"); !strings.Contains(out, "doris:     "+c.want) {
					t.Errorf("%s status lacks %s:\n%s", c.ctr.comp, c.want, out)
				}
			}
			if out := mustPodman(t, "exec", be.name, "/opt/apache-doris/be/lib/doris_be", "--version"); !strings.HasPrefix(out, tt.be+"(AVX2) RELEASE (build ") {
				t.Errorf("doris_be --version: %s", out)
			}
			mysql := func(q string) string {
				return mustPodman(t, "exec", fe.name, "mysql", "-uroot", "-P9030", "-h127.0.0.1", "--batch", "-e", q)
			}
			waitFor(t, "SHOW BACKENDS with the BE's version", func() bool { return strings.Contains(mysql("show backends"), "\t"+tt.version+"\t") })
			if out := mysql("show frontends"); !strings.Contains(out, "\t"+tt.version+"\t") {
				t.Errorf("SHOW FRONTENDS lacks %s:\n%s", tt.version, out)
			}
		})
	}
}
