//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	stickyv1 "github.com/sticky-ingress/sticky-ingress/api/v1alpha1"
	"github.com/sticky-ingress/sticky-ingress/controllers"
	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
	"github.com/sticky-ingress/sticky-ingress/test/testenv"
)

// recordingSink keeps the latest route table the reconciler served.
type recordingSink struct {
	mu   sync.Mutex
	last *routetable.Snapshot
	n    int
}

func (s *recordingSink) Update(snap *routetable.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last, s.n = snap, s.n+1
	return nil
}

func (s *recordingSink) backend(name string) *routetable.Backend {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		return nil
	}
	for i := range s.last.Backends {
		if s.last.Backends[i].Name == name {
			return &s.last.Backends[i]
		}
	}
	return nil
}

// serviceAccountConfig binds config/rbac/role.yaml (the generated ClusterRole) to a
// ServiceAccount and returns a config that acts as it: the controller under test has
// exactly the permissions the chart gives it.
func serviceAccountConfig(t *testing.T) *rest.Config {
	t.Helper()
	ctx := context.Background()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(data, &role); err != nil {
		t.Fatal(err)
	}
	role.Name = "sticky-ingress-under-test"
	const ns, sa = "sticky-system", "sticky-ingress"
	for _, obj := range []client.Object{
		&role,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: ns}},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: role.Name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}},
		},
	} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatalf("creating %T: %v", obj, err)
		}
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: fmt.Sprintf("system:serviceaccount:%s:%s", ns, sa)}
	return cfg
}

// startController runs the real controller wiring (cache, predicates, reconciler,
// status writer, events) as the ServiceAccount, with a recording sink for a proxy.
func startController(t *testing.T) *recordingSink {
	t.Helper()
	cfg := serviceAccountConfig(t)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Cache:   controllers.CacheOptions(""),
		Metrics: metricsserver.Options{BindAddress: "0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	log := ctrl.Log.WithName("under-test")
	rec := &controllers.SnapshotReconciler{
		Reader:  mgr.GetCache(),
		Builder: controllers.NewTranslator("sticky"),
		Sink:    sink,
		Status: &controllers.StatusWriter{
			Client:  mgr.GetClient(),
			Events:  controllers.RecorderSink{Recorder: mgr.GetEventRecorder("sticky-ingress"), Log: log},
			Publish: controllers.PublishOptions{Addresses: []string{"198.18.0.10", "lb.example.test"}},
			Log:     log,
		},
		Log: log,
	}
	if err := rec.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return sink
}

func condition(t *testing.T, ns, name, typ string) *metav1.Condition {
	t.Helper()
	var p stickyv1.StickyPolicy
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &p); err != nil {
		t.Fatal(err)
	}
	return apimeta.FindStatusCondition(p.Status.Conditions, typ)
}

func TestControllerServesAndReportsAsServiceAccount(t *testing.T) {
	sink := startController(t)
	ns := createNamespace(t, "shop")
	ctx := context.Background()

	mustCreate(t,
		&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "sticky"},
			Spec: networkingv1.IngressClassSpec{Controller: "sticky-ingress.io/ingress-controller"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "cart", Namespace: ns},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}},
		&discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "cart-1", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: "cart"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(8080))}},
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{"198.18.5.1"}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "cart-a", UID: "uid-a"}},
				{Addresses: []string{"198.18.5.2"}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "cart-b", UID: "uid-b"}},
			},
		},
		&networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: ns, Annotations: map[string]string{
				"sticky-ingress.io/affinity":       "cookie",
				"sticky-ingress.io/cookie-max-age": "not-a-duration",
			}},
			Spec: networkingv1.IngressSpec{
				IngressClassName: ptr.To("sticky"),
				Rules: []networkingv1.IngressRule{{Host: "shop.example.test", IngressRuleValue: networkingv1.IngressRuleValue{
					HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
						Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: "cart", Port: networkingv1.ServiceBackendPort{Number: 80}}},
					}}},
				}}},
			},
		},
	)

	backendName := ns + "/cart:80"
	eventually(t, "cart served with its two endpoints", func() error {
		b := sink.backend(backendName)
		if b == nil || len(b.Endpoints) != 2 {
			return fmt.Errorf("backend %s: %+v", backendName, b)
		}
		if b.Endpoints[0].ID != "uid-a" {
			return fmt.Errorf("endpoint identity %q, want the pod UID", b.Endpoints[0].ID)
		}
		return nil
	})

	eventually(t, "Ingress status.loadBalancer published", func() error {
		var ing networkingv1.Ingress
		if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "shop"}, &ing); err != nil {
			return err
		}
		lb := ing.Status.LoadBalancer.Ingress
		if len(lb) != 2 || lb[0].IP != "198.18.0.10" || lb[1].Hostname != "lb.example.test" {
			return fmt.Errorf("status.loadBalancer %+v", lb)
		}
		return nil
	})

	eventually(t, "Warning Event naming the bad annotation", func() error {
		var list eventsv1.EventList
		if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Regarding.Name == "shop" && e.Type == corev1.EventTypeWarning && strings.Contains(e.Note, "cookie-max-age") {
				t.Logf("event: %s %s", e.Reason, e.Note)
				return nil
			}
		}
		return fmt.Errorf("%d events, none about cookie-max-age", len(list.Items))
	})

	// A policy takes over the Service; a second one conflicts; a third targets nothing.
	older := &stickyv1.StickyPolicy{ObjectMeta: metav1.ObjectMeta{Name: "cart", Namespace: ns},
		Spec: stickyv1.StickyPolicySpec{TargetRefs: []stickyv1.TargetRef{{Name: "cart"}}, Type: stickyv1.AffinitySourceIP}}
	mustCreate(t, older)
	time.Sleep(1100 * time.Millisecond) // creationTimestamp has one-second resolution
	mustCreate(t,
		&stickyv1.StickyPolicy{ObjectMeta: metav1.ObjectMeta{Name: "cart-too", Namespace: ns},
			Spec: stickyv1.StickyPolicySpec{TargetRefs: []stickyv1.TargetRef{{Name: "cart"}}, Type: stickyv1.AffinityCookie}},
		&stickyv1.StickyPolicy{ObjectMeta: metav1.ObjectMeta{Name: "ghost", Namespace: ns},
			Spec: stickyv1.StickyPolicySpec{TargetRefs: []stickyv1.TargetRef{{Name: "no-such-service"}}, Type: stickyv1.AffinityCookie}},
	)
	eventually(t, "the older policy is authoritative", func() error {
		if b := sink.backend(backendName); b == nil || b.Affinity.SourceIP == nil {
			return fmt.Errorf("backend affinity %+v", b)
		}
		return nil
	})
	eventually(t, "conditions written", func() error {
		want := []struct {
			name, typ string
			status    metav1.ConditionStatus
			reason    string
		}{
			{"cart", stickyv1.ConditionAccepted, metav1.ConditionTrue, stickyv1.ReasonAccepted},
			{"cart", stickyv1.ConditionResolvedRefs, metav1.ConditionTrue, stickyv1.ReasonResolvedRefs},
			{"cart-too", stickyv1.ConditionAccepted, metav1.ConditionFalse, stickyv1.ReasonConflicted},
			{"ghost", stickyv1.ConditionResolvedRefs, metav1.ConditionFalse, stickyv1.ReasonTargetNotFound},
		}
		for _, w := range want {
			c := condition(t, ns, w.name, w.typ)
			if c == nil || c.Status != w.status || c.Reason != w.reason {
				return fmt.Errorf("policy %s condition %s = %+v, want %s/%s", w.name, w.typ, c, w.status, w.reason)
			}
			if c.ObservedGeneration != 1 {
				return fmt.Errorf("policy %s: observedGeneration %d", w.name, c.ObservedGeneration)
			}
		}
		return nil
	})

	// Scaling the EndpointSlice reaches the route table.
	var slice discoveryv1.EndpointSlice
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "cart-1"}, &slice); err != nil {
		t.Fatal(err)
	}
	slice.Endpoints = slice.Endpoints[:1]
	if err := k8s.Update(ctx, &slice); err != nil {
		t.Fatal(err)
	}
	eventually(t, "scale-down served", func() error {
		if b := sink.backend(backendName); b == nil || len(b.Endpoints) != 1 {
			return fmt.Errorf("backend %+v", b)
		}
		return nil
	})
}
