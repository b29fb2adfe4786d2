// Package kubeapi is the supervisor's access to its own pod through the
// Kubernetes API, when it runs in a cluster and may: a watch on the pod
// (field selector on its name) whose annotations feed the same mode machine
// as the downward-API file — the API shows `kubectl annotate` at once, the
// kubelet rewrites the file up to a second later — and Events on the pod
// (debug mode entered and left, registered, child exited, stop timeout,
// conf restored after a crash) for `kubectl describe pod`.
//
// It uses client-go's REST client with a scheme of core/v1 only (not the
// generated clientset, whose scheme registers every API group at start).
// No API access, or a Role that forbids it, is one log line: the file source
// alone decides then, and nothing else changes. Nothing here blocks the
// child's start or a probe.
package kubeapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/apache/doris-entrypoint/supervisor/podinfo"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// Modes of DORIS_ENTRYPOINT_KUBE.
const (
	On   = "on"   // use the API; failing to configure it is an error
	Off  = "off"  // never
	Auto = "auto" // when the service-account token and KUBERNETES_SERVICE_HOST are there
)

// tokenFile is where kubelet mounts the service-account token.
const tokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// Config configures New.
type Config struct {
	Mode      string // On, Off or Auto ("" is Auto)
	Namespace string // POD_NAMESPACE
	Name      string // POD_NAME
	Logger    *zap.Logger
	// REST, when set, is used instead of the in-cluster configuration
	// (tests, or a kubeconfig).
	REST *rest.Config
}

// Client is the pod's API access. Its methods are safe for concurrent use.
type Client struct {
	rc        *rest.RESTClient
	params    runtime.ParameterCodec
	ns, name  string
	log       *zap.Logger
	mu        sync.Mutex
	uid       types.UID
	node      string
	forbidden bool // events: told once
	pending   sync.WaitGroup
	backoff   wait.Backoff // the watch loop's, from watchBackoff (tests shorten it)
}

// New returns the client, or nil without an error when the API is not to
// be used (Off, or Auto outside a cluster).
func New(cfg Config) (*Client, error) {
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	mode := strings.ToLower(strings.TrimSpace(cfg.Mode))
	switch mode {
	case "", Auto:
		mode = Auto
	case On, Off:
	default:
		return nil, fmt.Errorf("kube mode %q: want on, off or auto", cfg.Mode)
	}
	if mode == Off {
		return nil, nil
	}
	rc := cfg.REST
	if rc == nil {
		if _, err := os.Stat(tokenFile); err != nil || os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
			if mode == Auto {
				return nil, nil
			}
		}
		c, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster API configuration: %w", err)
		}
		rc = c
	}
	if cfg.Namespace == "" || cfg.Name == "" {
		if mode == Auto {
			log.Warn("no POD_NAME/POD_NAMESPACE: not watching the pod through the API; the downward-API file alone sets the mode")
			return nil, nil
		}
		return nil, errors.New("POD_NAME and POD_NAMESPACE are needed to watch the pod")
	}
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("scheme: %w", err)
	}
	conf := rest.CopyConfig(rc)
	conf.APIPath = "/api"
	conf.GroupVersion = &corev1.SchemeGroupVersion
	conf.ContentType = runtime.ContentTypeJSON
	conf.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	if conf.UserAgent == "" {
		conf.UserAgent = "doris-entrypoint"
	}
	client, err := rest.RESTClientFor(conf)
	if err != nil {
		return nil, fmt.Errorf("API client: %w", err)
	}
	return &Client{rc: client, params: runtime.NewParameterCodec(scheme), ns: cfg.Namespace, name: cfg.Name, log: log,
		backoff: watchBackoff}, nil
}

// watchBackoff is the watch loop's wait between attempts: 0.5 s, doubled
// each time up to 30 s, no jitter. Steps is unbounded in practice: the cap
// ends the growth, and Step then keeps returning the cap.
var watchBackoff = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Cap: 30 * time.Second, Steps: math.MaxInt32}

// Watch follows the pod until ctx ends, calling feed with its annotations
// at the first read and after each change; it re-lists when the watch
// expires and backs off on errors. Forbidden or unauthorised ends it, with
// one log line.
func (c *Client) Watch(ctx context.Context, feed func(map[string]string)) {
	backoff := c.backoff
	var lastErr string
	for ctx.Err() == nil {
		rv, err := c.get(ctx, feed)
		short := false
		if err == nil {
			lastErr = ""
			start := time.Now()
			err = c.watch(ctx, rv, feed)
			// A watch that ends at once must not turn into a busy loop of
			// GETs against the API server.
			if short = err == nil && time.Since(start) < time.Second; !short {
				backoff = c.backoff // start over
			}
		}
		if ctx.Err() != nil {
			return
		}
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
			c.log.Warn("no API access to the pod: the downward-API file alone sets the mode", zap.String("pod", c.ns+"/"+c.name), zap.Error(err))
			return
		}
		if err == nil && !short {
			continue
		}
		delay := backoff.Step()
		if err != nil && err.Error() != lastErr {
			// One line per distinct failure, not per retry.
			c.log.Warn("pod watch failed; retrying", zap.String("pod", c.ns+"/"+c.name), zap.Duration("wait", delay), zap.Error(err))
			lastErr = err.Error()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// get reads the pod and feeds its annotations; it returns the resource
// version to watch from.
func (c *Client) get(ctx context.Context, feed func(map[string]string)) (string, error) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pod, err := c.fetch(rctx)
	if err != nil {
		return "", err
	}
	feed(pod.Annotations)
	return pod.ResourceVersion, nil
}

// fetch reads the pod and remembers its UID and node.
func (c *Client) fetch(ctx context.Context) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	if err := c.rc.Get().Namespace(c.ns).Resource("pods").Name(c.name).Do(ctx).Into(pod); err != nil {
		return nil, err
	}
	c.setPod(pod)
	return pod, nil
}

func (c *Client) setPod(pod *corev1.Pod) {
	c.mu.Lock()
	c.uid, c.node = pod.UID, pod.Spec.NodeName
	c.mu.Unlock()
}

// watch follows the pod from rv until the watch ends (nil: re-list) or fails.
func (c *Client) watch(ctx context.Context, rv string, feed func(map[string]string)) error {
	timeout := int64(300)
	w, err := c.rc.Get().Namespace(c.ns).Resource("pods").
		VersionedParams(&metav1.ListOptions{Watch: true, FieldSelector: "metadata.name=" + c.name, ResourceVersion: rv,
			AllowWatchBookmarks: true, TimeoutSeconds: &timeout}, c.params).
		Watch(ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil // expired or closed: re-list
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				if pod, ok := ev.Object.(*corev1.Pod); ok {
					c.setPod(pod)
					feed(pod.Annotations)
				}
			case watch.Error:
				if st, ok := ev.Object.(*metav1.Status); ok && st.Code == 410 {
					return nil // resource version too old: re-list
				}
				return apierrors.FromObject(ev.Object)
			}
		}
	}
}

// Event types.
const (
	Normal  = corev1.EventTypeNormal
	Warning = corev1.EventTypeWarning
)

// Event records an Event on the pod in the background; it never blocks.
// Call Flush before the process exits.
func (c *Client) Event(eventType, reason, message string) {
	if c == nil {
		return
	}
	c.pending.Add(1)
	go func() {
		defer c.pending.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.post(ctx, eventType, reason, message); err != nil {
			c.mu.Lock()
			told := c.forbidden
			c.forbidden = c.forbidden || apierrors.IsForbidden(err)
			c.mu.Unlock()
			if !told {
				c.log.Warn("cannot record an Event on the pod", zap.String("reason", reason), zap.Error(err))
			}
		}
	}()
}

// Flush waits up to timeout for the Events still being sent.
func (c *Client) Flush(timeout time.Duration) {
	if c == nil {
		return
	}
	done := make(chan struct{})
	go func() { c.pending.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
	}
}

func (c *Client) post(ctx context.Context, eventType, reason, message string) error {
	c.mu.Lock()
	uid, node := c.uid, c.node
	c.mu.Unlock()
	if uid == "" {
		if pod, err := c.fetch(ctx); err == nil {
			uid, node = pod.UID, pod.Spec.NodeName
		}
	}
	now := metav1.NewTime(time.Now())
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: c.name + ".", Namespace: c.ns},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: c.ns, Name: c.name, UID: uid},
		Reason:         reason, Message: message, Type: eventType,
		Source:         corev1.EventSource{Component: "doris-entrypoint", Host: node},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
		ReportingController: "doris-entrypoint", ReportingInstance: c.name,
	}
	return c.rc.Post().Namespace(c.ns).Resource("events").Body(ev).Do(ctx).Error()
}

// Start is New, then Watch in the background feeding watcher (source
// "api") beside the downward-API file. It returns nil when the API is off,
// out of reach or not configured; one log line says why, except outside a
// cluster.
func Start(ctx context.Context, cfg Config, watcher *podinfo.Watcher) *Client {
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	kc, err := New(cfg)
	if err != nil {
		log.Warn("no pod watch: the downward-API file alone sets the mode", zap.String("env", "DORIS_ENTRYPOINT_KUBE"), zap.Error(err))
		return nil
	}
	if kc == nil {
		return nil
	}
	log.Info("watching the pod through the API", zap.String("pod", cfg.Namespace+"/"+cfg.Name))
	go kc.Watch(ctx, func(ann map[string]string) { watcher.Feed("api", ann) })
	return kc
}
