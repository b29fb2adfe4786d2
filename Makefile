# doris-entrypoint — see README.md. Every target works on a fresh Debian
# machine with Go and make: test, image-test and e2e install what they use
# when it is missing (test/install-deps.sh), bench likewise
# (test/bench/install-inits.sh).

GO      ?= go
BIN     := bin/doris-entrypoint
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# amd64: start the child of "supervise -- /path" at the entry point, before the
# Go runtime (see supervisor/earlystart).
ifeq ($(shell $(GO) env GOARCH),amd64)
LDFLAGS += -E github.com/apache/doris-entrypoint/supervisor/earlystart.entry
endif
export CGO_ENABLED := 0

.PHONY: all build test test-deps bench demo lint clean image-test image-builder-check e2e e2e-up e2e-down

all: build

## build: static, stripped binary with version and commit stamped in
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/doris-entrypoint

## test: what the tests use, installed when missing; lint, unit tests, and black-box tests of the binary as
## PID 1 (needs root for unshare)
test: test-deps lint
	$(GO) test -count=1 -timeout 15m ./...

## test-deps: util-linux, default-mysql-client, podman, runc, busybox-static from Debian, each only if missing
test-deps:
	sh test/install-deps.sh

## e2e: up, the tests, down: the images on a real single-node Kubernetes v1.34.4 (apiserver, controller-manager,
## scheduler, kubelet, kube-proxy and CoreDNS built once into $${DORIS_E2E_CACHE:-/var/cache/doris-entrypoint-e2e},
## ~15 min cold), etcd, containerd and the CNI plugins from Debian, a pod network that cannot leave the machine; root
e2e:
	sh test/install-deps.sh e2e
	$(GO) test -tags e2e -count=1 -timeout 60m -v ./test/e2e

## e2e-up: the same cluster with the images loaded, left running for trying them by hand; prints the kubeconfig,
## the images and a kubectl line (state in $${DORIS_E2E_DIR:-/var/tmp/doris-entrypoint-e2e})
e2e-up:
	sh test/install-deps.sh e2e
	$(GO) run ./test/e2e/cmd/e2e-cluster up

## e2e-down: tears the cluster of e2e-up down (pods, daemons, bridge, iptables rules, mounts)
e2e-down:
	$(GO) run ./test/e2e/cmd/e2e-cluster down

## image-test: the stand-in base (busybox-static + the fake Doris), images/fe, images/be and images/broker on it
## with the local binary (podman, no registry), then the container tests
image-test: test-deps build
	sh images/standin/build.sh $(BIN) test
	$(GO) test -count=1 -timeout 15m ./test/images

## image-builder-check: the Dockerfiles' default path (golang builder stage) on local stand-ins of golang and
## of the Doris base (modules come through the Go module proxy); prints the image's version line
image-builder-check: build
	sh images/standin/build.sh $(BIN) test
	sh images/standin/golang.sh local
	CONTAINERS_CONF=$(CURDIR)/images/containers.conf podman build -q -f images/fe/Dockerfile \
		--build-arg GOLANG_IMAGE=localhost/golang-standin:local --build-arg BASE_IMAGE=localhost/doris-standin:test \
		--build-arg VERSION=$(VERSION) --build-arg REVISION=$$(git rev-parse HEAD) -t localhost/doris-entrypoint-fe:builder .
	CONTAINERS_CONF=$(CURDIR)/images/containers.conf podman run --rm --entrypoint /usr/local/bin/doris-entrypoint \
		localhost/doris-entrypoint-fe:builder version

## bench: doris-entrypoint against tini, dumb-init and catatonit as PID 1 (installs them with apt-get if missing);
## then our own part of a BE scale-in (preStop → DECOMMISSION, drained → exit)
bench: build
	sh test/bench/install-inits.sh
	$(GO) run ./test/bench -entrypoint $(BIN) -reps $(or $(REPS),15)
	$(GO) test -run - -bench ScaleInOverhead -benchtime 5x ./test/scalein

## demo: a sandbox FE under the real binary: start, run, SIGTERM, graceful stop
demo: build
	$(GO) run ./test/demo -entrypoint $(BIN)

## lint: gofmt check and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
