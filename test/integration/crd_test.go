//go:build integration

package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	stickyv1 "github.com/sticky-ingress/sticky-ingress/api/v1alpha1"
	"github.com/sticky-ingress/sticky-ingress/test/testenv"
)

func TestCRDAcceptsEverySample(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "samples", "stickypolicy-*.yaml"))
	if len(files) == 0 {
		t.Fatal("no samples under config/samples")
	}
	ns := createNamespace(t, "samples")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var p stickyv1.StickyPolicy
			if err := yaml.UnmarshalStrict(data, &p); err != nil {
				t.Fatalf("sample does not decode strictly: %v", err)
			}
			p.Namespace = ns
			if err := k8s.Create(context.Background(), &p); err != nil {
				t.Fatalf("API server refused the sample: %v", err)
			}
		})
	}
}

func TestCRDDefaults(t *testing.T) {
	ns := createNamespace(t, "defaults")
	p := &stickyv1.StickyPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: ns},
		Spec: stickyv1.StickyPolicySpec{
			TargetRefs: []stickyv1.TargetRef{{Name: "svc"}},
			Type:       stickyv1.AffinityCookie,
			Cookie:     &stickyv1.CookiePolicy{},
		},
	}
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	c := p.Spec.Cookie
	if c.Name != "STICKY" || c.SameSite != stickyv1.SameSiteLax || c.Secure != stickyv1.CookieSecureAuto || c.HTTPOnly == nil || !*c.HTTPOnly {
		t.Errorf("cookie defaults not applied: %+v", c)
	}
	if p.Spec.Fallback != stickyv1.FallbackRebalance || p.Spec.LoadBalance != stickyv1.LoadBalanceRoundRobin {
		t.Errorf("spec defaults not applied: fallback=%q loadBalance=%q", p.Spec.Fallback, p.Spec.LoadBalance)
	}
}

// TestCRDRejectsMalformedPolicies: the API server itself refuses each malformed form,
// with a message that names the field.
func TestCRDRejectsMalformedPolicies(t *testing.T) {
	ns := createNamespace(t, "malformed")
	cases := []struct {
		name      string
		spec      string
		wantField string
		wantText  string
	}{
		{"header type without header name", `{targetRefs: [{name: a}], type: Header}`,
			"spec.header", "header.name is required when type is Header"},
		{"header type with empty header name", `{targetRefs: [{name: a}], type: Header, header: {name: ""}}`,
			"spec.header.name", ""},
		{"cookie block on a source-ip policy", `{targetRefs: [{name: a}], type: SourceIP, cookie: {name: X}}`,
			"spec.cookie", "cookie may only be set when type is Cookie"},
		{"sameSite None with secure Never", `{targetRefs: [{name: a}], type: Cookie, cookie: {sameSite: None, secure: Never}}`,
			"spec.cookie.secure", "sameSite None requires a Secure cookie"},
		{"negative maxAge", `{targetRefs: [{name: a}], type: Cookie, cookie: {maxAge: -5m}}`,
			"spec.cookie.maxAge", "maxAge must not be negative"},
		{"empty targetRefs", `{targetRefs: [], type: Cookie}`,
			"spec.targetRefs", "should have at least 1 items"},
		{"missing targetRefs", `{type: Cookie}`,
			"spec.targetRefs", "Required value"},
		{"duplicate targetRefs", `{targetRefs: [{name: a}, {name: a}], type: Cookie}`,
			"spec.targetRefs", "targetRefs must not contain duplicates"},
		{"duplicate targetRefs with port", `{targetRefs: [{name: a, port: 80}, {name: a, port: 80}], type: Cookie}`,
			"spec.targetRefs", "targetRefs must not contain duplicates"},
		{"unknown type", `{targetRefs: [{name: a}], type: Random}`,
			"spec.type", "Unsupported value"},
		{"source-ip prefix out of range", `{targetRefs: [{name: a}], type: SourceIP, sourceIP: {ipv4PrefixLength: 33}}`,
			"spec.sourceIP.ipv4PrefixLength", "less than or equal to 32"},
		{"balance factor not above 1", `{targetRefs: [{name: a}], type: Header, header: {name: X}, hashBalanceFactor: "0.9"}`,
			"spec.hashBalanceFactor", "greater than 1"},
		{"cookie name with a separator", `{targetRefs: [{name: a}], type: Cookie, cookie: {name: "a;b"}}`,
			"spec.cookie.name", "should match"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var spec stickyv1.StickyPolicySpec
			if err := yaml.Unmarshal([]byte(tc.spec), &spec); err != nil {
				t.Fatalf("bad test spec: %v", err)
			}
			p := &stickyv1.StickyPolicy{ObjectMeta: metav1.ObjectMeta{Name: "bad-" + rand.String(4), Namespace: ns}, Spec: spec}
			err := k8s.Create(context.Background(), p)
			if err == nil {
				t.Fatalf("API server accepted a malformed policy: %s", tc.spec)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.wantField) || !strings.Contains(msg, tc.wantText) {
				t.Fatalf("error should name %q and say %q; got: %s", tc.wantField, tc.wantText, msg)
			}
			t.Logf("refused: %s", msg)
		})
	}
}

// TestCRDPrinterColumns asks the API server for table output, as kubectl get does.
func TestCRDPrinterColumns(t *testing.T) {
	ns := createNamespace(t, "columns")
	p := &stickyv1.StickyPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "cols", Namespace: ns},
		Spec: stickyv1.StickyPolicySpec{
			TargetRefs: []stickyv1.TargetRef{{Name: "cart"}, {Name: "checkout"}},
			Type:       stickyv1.AffinitySourceIP,
		},
	}
	ctx := context.Background()
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	p.Status.Conditions = []metav1.Condition{{Type: stickyv1.ConditionAccepted, Status: metav1.ConditionTrue,
		Reason: stickyv1.ReasonAccepted, Message: "ok", LastTransitionTime: metav1.Now()}}
	if err := k8s.Status().Update(ctx, p); err != nil {
		t.Fatalf("status subresource: %v", err)
	}

	cfg := rest.CopyConfig(env.Config)
	cfg.GroupVersion = &stickyv1.GroupVersion
	cfg.APIPath = "/apis"
	cfg.NegotiatedSerializer = clientNegotiator()
	rc, err := rest.RESTClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var table metav1.Table
	raw, err := rc.Get().Namespace(ns).Resource("stickypolicies").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range table.ColumnDefinitions {
		names = append(names, c.Name)
	}
	if got, want := strings.Join(names, ","), "Name,Type,Targets,Accepted,Age"; got != want {
		t.Fatalf("columns %s, want %s", got, want)
	}
	if len(table.Rows) != 1 {
		t.Fatalf("want 1 row, got %d", len(table.Rows))
	}
	cells := table.Rows[0].Cells
	// The server-side printer shows the first match of a JSONPath list.
	if cells[1] != "SourceIP" || cells[2] != "cart" || cells[3] != "True" {
		t.Fatalf("row cells %v", cells)
	}
	t.Logf("columns %v row %v", names, cells)
}
