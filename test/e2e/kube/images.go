package kube

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/apache/doris-entrypoint/test/internal/harness"
)

// The stand-in images the cluster loads: Tag reports fakedoris' default
// version (2.1), NextTag and LastTag the versions an upgrade walk rolls to,
// a feature line up each (so that the FE's order guard waits for the BEs).
const (
	Tag         = "e2e"
	NextTag     = "e2e-next"
	NextVersion = "doris-3.0.3-rc01-0a1b2c3d4e"
	LastTag     = "e2e-last"
	LastVersion = "doris-3.1.0-rc01-5f6e7d8c9b"
)

// Components are the images built per tag.
var Components = []string{"fe", "be", "broker"}

// Image is the reference of a component's image at a tag.
func Image(comp, tag string) string { return "localhost/doris-entrypoint-" + comp + ":" + tag }

// Prepared is what Up needs before a cluster starts: the binaries and the
// image tarballs.
type Prepared struct {
	KubeBin, CoreDNS string
	Images           []string // references, SandboxTag first
	tarballs         []string
}

// Prepare installs what is missing (test/install-deps.sh e2e), builds the
// kube binaries and CoreDNS (cached outside the repository), the
// entrypoint, the stand-in images at Tag and NextTag and the sandbox image,
// and saves them as docker archives in dir.
func Prepare(repo, dir string) (*Prepared, error) {
	deps := exec.Command("sh", filepath.Join(repo, "test", "install-deps.sh"), "e2e")
	deps.Stdout, deps.Stderr = os.Stderr, os.Stderr
	if err := deps.Run(); err != nil {
		return nil, fmt.Errorf("install-deps.sh e2e: %w", err)
	}
	p := &Prepared{}
	for _, b := range []struct {
		script string
		out    *string
	}{{"build-kube.sh", &p.KubeBin}, {"build-coredns.sh", &p.CoreDNS}} {
		cmd := exec.Command("sh", filepath.Join(repo, "test", "e2e", b.script))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.script, err)
		}
		*b.out = strings.TrimSpace(string(out))
	}
	bin, err := harness.Build(dir, "github.com/apache/doris-entrypoint/cmd/doris-entrypoint", "doris-entrypoint", harness.EntrypointLDFlags())
	if err != nil {
		return nil, err
	}
	podmanEnv := append(os.Environ(), "CONTAINERS_CONF="+filepath.Join(repo, "images", "containers.conf"))
	for _, v := range []struct{ tag, version string }{{Tag, ""}, {NextTag, NextVersion}, {LastTag, LastVersion}} {
		build := exec.Command("sh", filepath.Join(repo, "images", "standin", "build.sh"), bin, v.tag)
		build.Env, build.Stdout, build.Stderr = podmanEnv, os.Stderr, os.Stderr
		if v.version != "" {
			build.Env = append(build.Env, "DORIS_VERSION="+v.version)
		}
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("images %s: %w", v.tag, err)
		}
	}
	// The pod sandbox image: the stand-in base, sleeping.
	pause := exec.Command("podman", "build", "-q", "-t", SandboxTag, "-f", "-", dir)
	pause.Env, pause.Stdin = podmanEnv, strings.NewReader("FROM localhost/doris-standin:"+Tag+"\nENTRYPOINT [\"/bin/sleep\", \"2147483647\"]\n")
	if out, err := pause.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pause image: %v\n%s", err, out)
	}
	p.Images = []string{SandboxTag}
	for _, tag := range []string{Tag, NextTag, LastTag} {
		for _, comp := range Components {
			p.Images = append(p.Images, Image(comp, tag))
		}
	}
	for _, img := range p.Images {
		tar := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(img)+".tar")
		save := exec.Command("podman", "save", "--format", "docker-archive", "-o", tar, img)
		save.Env = podmanEnv
		if out, err := save.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("podman save %s: %v\n%s", img, err, out)
		}
		p.tarballs = append(p.tarballs, tar)
	}
	return p, nil
}

// Up prepares, starts the cluster in dir, loads the images and applies the
// images' RBAC (images/deploy/rbac.yaml) to the test namespace. On error
// the cluster is stopped and the error carries the daemons' log tail.
func Up(repo, dir string) (*Cluster, *Prepared, error) {
	p, err := Prepare(repo, dir)
	if err != nil {
		return nil, nil, err
	}
	c, err := Start(p.KubeBin, p.CoreDNS, dir)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "daemons.log"))
		return nil, nil, fmt.Errorf("cluster: %w\n%s", err, Tail(string(log), 60))
	}
	for _, tar := range p.tarballs {
		if err := c.ImportImage(tar); err != nil {
			c.Stop()
			return nil, nil, err
		}
	}
	// The README's "With the Doris Operator" steps, as written there:
	//   kubectl -n doris create serviceaccount doris-entrypoint
	//   sed 's/name: default$/name: doris-entrypoint/' images/deploy/rbac.yaml | kubectl -n doris apply -f -
	rbac, err := os.ReadFile(filepath.Join(repo, "images", "deploy", "rbac.yaml"))
	if err == nil {
		var out string
		if out, err = c.Kubectl("-n", Namespace, "create", "serviceaccount", ServiceAccount); err != nil {
			err = fmt.Errorf("serviceaccount: %v\n%s", err, out)
		} else if out, err = c.KubectlIn(reDefaultSA.ReplaceAllString(string(rbac), "${1}name: "+ServiceAccount), "-n", Namespace, "apply", "-f", "-"); err != nil {
			err = fmt.Errorf("rbac: %v\n%s", err, out)
		}
	}
	if err != nil {
		c.Stop()
		return nil, nil, err
	}
	return c, p, nil
}

// ServiceAccount is the DorisCluster's spec.<comp>.serviceAccount, bound to
// images/deploy/rbac.yaml as the README says.
const ServiceAccount = "doris-entrypoint"

// reDefaultSA is the README's sed 's/name: default$/name: doris-entrypoint/'.
var reDefaultSA = regexp.MustCompile(`(?m)^(.*)name: default$`)

// Tail is the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
