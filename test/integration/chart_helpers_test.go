//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/sticky-ingress/sticky-ingress/test/testenv"
)

const chartCRD = "stickypolicies.sticky-ingress.io"

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// helmRunner runs the real helm binary with its config, cache and data homes in a
// temporary directory, so a test run never touches the developer's ~/.config/helm.
type helmRunner struct {
	bin  string
	home string
}

func newHelm(t *testing.T) *helmRunner {
	t.Helper()
	bin := os.Getenv("HELM")
	if bin == "" {
		t.Skip("HELM is not set: the chart tests need the helm binary; run `make test-chart` " +
			"or HELM=$PWD/bin/helm hack/chart-check.sh")
	}
	return &helmRunner{bin: bin, home: t.TempDir()}
}

// run executes helm and returns its output, failing the test if helm fails.
func (h *helmRunner) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(h.bin, args...)
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(h.home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(h.home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(h.home, "data"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// render is `helm template` of the chart as release in ns with extra arguments
// (--set …), decoded into objects.
func (h *helmRunner) render(t *testing.T, release, ns string, extra ...string) []*unstructured.Unstructured {
	t.Helper()
	args := append([]string{"template", release, chartDir(), "--namespace", ns}, extra...)
	return decodeManifests(t, []byte(h.run(t, args...)))
}

func chartDir() string { return filepath.Join(testenv.RepoRoot(), "charts", "sticky-ingress") }

// decodeManifests splits a multi-document YAML stream into objects, skipping documents
// that hold only comments.
func decodeManifests(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return objs
		}
		if err != nil {
			t.Fatalf("reading rendered YAML: %v", err)
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("rendered YAML does not parse: %v\n%s", err, doc)
		}
		if string(bytes.TrimSpace(js)) == "null" {
			continue
		}
		obj, _, err := unstructured.UnstructuredJSONScheme.Decode(js, nil, nil)
		if err != nil {
			t.Fatalf("rendered object does not decode: %v\n%s", err, doc)
		}
		objs = append(objs, obj.(*unstructured.Unstructured))
	}
}

func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// typed converts the single rendered object of kind into into, failing unless there is
// exactly one.
func typed(t *testing.T, objs []*unstructured.Unstructured, kind string, into any) {
	t.Helper()
	found := ofKind(objs, kind)
	if len(found) != 1 {
		t.Fatalf("want exactly one %s rendered, got %d", kind, len(found))
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(found[0].Object, into); err != nil {
		t.Fatalf("%s does not convert: %v", kind, err)
	}
}

// cluster talks to the API server through client-go's dynamic client, so any kind the
// chart renders can be applied without a typed client for it.
type cluster struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
	cs     kubernetes.Interface
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{
		dyn:    dynamic.NewForConfigOrDie(env.Config),
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cs.Discovery())),
		cs:     cs,
	}
}

// apply is server-side apply of one object, with dryRun the API server's full
// admission and validation without persisting anything (kubectl apply --server-side
// --dry-run=server).
func (c *cluster) apply(obj *unstructured.Unstructured, dryRun bool) error {
	gvk := obj.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	var ri dynamic.ResourceInterface = c.dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = c.dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	opts := metav1.ApplyOptions{FieldManager: "chart-test", Force: true}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	if _, err := ri.Apply(context.Background(), obj.GetName(), obj, opts); err != nil {
		return fmt.Errorf("%s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

// applyAll applies CRDs first, as helm does, then everything else.
func (c *cluster) applyAll(t *testing.T, objs []*unstructured.Unstructured, dryRun bool) {
	t.Helper()
	ordered := slices.Clone(objs)
	slices.SortStableFunc(ordered, func(a, b *unstructured.Unstructured) int {
		isCRD := func(o *unstructured.Unstructured) bool { return o.GetKind() == "CustomResourceDefinition" }
		switch {
		case isCRD(a) && !isCRD(b):
			return -1
		case !isCRD(a) && isCRD(b):
			return 1
		}
		return 0
	})
	for _, o := range ordered {
		if err := c.apply(o, dryRun); err != nil {
			t.Errorf("API server refused the rendered object: %v", err)
		}
	}
}

// installServiceMonitorCRD installs a minimal monitoring.coreos.com/v1 ServiceMonitor
// CRD for real. The chart's ServiceMonitor is meant for clusters running the
// prometheus-operator, whose CRDs envtest does not have; vendoring the operator's
// (very large) CRD is not worth it, so this one declares the kind, its scope and the
// fields the chart sets. The dry run then proves the object's kind, namespace and the
// shape of what we set; the operator's full schema is not checked here.
func (c *cluster) installServiceMonitorCRD(t *testing.T) {
	t.Helper()
	crd := decodeManifests(t, []byte(serviceMonitorCRD))[0]
	if err := c.apply(crd, false); err != nil {
		t.Fatalf("installing the minimal ServiceMonitor CRD: %v", err)
	}
	eventually(t, "ServiceMonitor CRD established", func() error {
		got, err := c.dyn.Resource(crdGVR).Get(context.Background(), crd.GetName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, cd := range conds {
			if m, ok := cd.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				return nil
			}
		}
		return fmt.Errorf("not established yet")
	})
	c.mapper.Reset()
}

const serviceMonitorCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [selector]
            properties:
              selector: {type: object, x-kubernetes-preserve-unknown-fields: true}
              namespaceSelector:
                type: object
                properties: {matchNames: {type: array, items: {type: string}}}
              endpoints:
                type: array
                items:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
                  properties:
                    port: {type: string}
                    path: {type: string}
                    interval: {type: string}
                    scrapeTimeout: {type: string}
`

func set(kv ...string) []string {
	var out []string
	for _, s := range kv {
		out = append(out, "--set", s)
	}
	return out
}

func containerArgs(t *testing.T, objs []*unstructured.Unstructured) []string {
	t.Helper()
	var d appsv1.Deployment
	typed(t, objs, "Deployment", &d)
	return d.Spec.Template.Spec.Containers[0].Args
}

func wantArgs(t *testing.T, objs []*unstructured.Unstructured, want ...string) {
	t.Helper()
	args := containerArgs(t, objs)
	for _, w := range want {
		if !slices.Contains(args, w) {
			t.Errorf("controller args %q lack %q", args, w)
		}
	}
}

func wantCount(t *testing.T, objs []*unstructured.Unstructured, kind string, n int) {
	t.Helper()
	if got := len(ofKind(objs, kind)); got != n {
		t.Errorf("want %d %s rendered, got %d", n, kind, got)
	}
}
