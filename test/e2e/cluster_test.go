//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

const backendPort = 8080

// backend is a real HTTP server on its own address in 198.18.2.0/24; it answers with
// its name in the X-Server-Id header and the body.
type backend struct {
	name string
	ip   string
	uid  types.UID // the Pod UID its endpoint claims
	srv  *http.Server
	hits atomic.Int64
}

var nextBackendIP atomic.Int32

func startBackends(t *testing.T, prefix string, n int) []*backend {
	t.Helper()
	var out []*backend
	for i := 0; i < n; i++ {
		k := nextBackendIP.Add(1)
		b := &backend{
			name: fmt.Sprintf("%s-%d", prefix, i+1),
			ip:   fmt.Sprintf("198.18.%d.%d", 2+k/250, 1+k%250),
			uid:  types.UID(fmt.Sprintf("uid-%s-%d", prefix, i+1)),
		}
		l, err := net.Listen("tcp", net.JoinHostPort(b.ip, strconv.Itoa(backendPort)))
		if err != nil {
			t.Fatalf("backend %s: %v", b.name, err)
		}
		b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = b.srv.Serve(l) }()
		t.Cleanup(func() { _ = b.srv.Close() })
		out = append(out, b)
	}
	return out
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.hits.Add(1)
	w.Header().Set("X-Server-Id", b.name)
	_, _ = fmt.Fprint(w, b.name)
}

// kill closes the backend so connections to it are refused.
func (b *backend) kill() { _ = b.srv.Close() }

// namespace creates a namespace for one test.
func namespace(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.Trim(name, "-") + "-" + strconv.Itoa(int(time.Now().UnixNano()%100000))
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	return name
}

func create(t *testing.T, obj clientObject) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// service creates a ClusterIP Service with one named port.
func service(t *testing.T, ns, name string) {
	t.Helper()
	create(t, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{
			Name: "http", Port: 80, TargetPort: intstr.FromInt32(backendPort),
		}}},
	})
}

// endpointState is how a test wants an endpoint to look in its EndpointSlice.
type endpointState struct {
	*backend
	notReady    bool
	terminating bool
}

// setEndpoints creates or replaces the Service's EndpointSlice.
func setEndpoints(t *testing.T, ns, svc string, eps ...endpointState) {
	t.Helper()
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: svc + "-e2e", Namespace: ns,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(backendPort))}},
	}
	slice.Endpoints = sliceEndpoints(ns, eps...)
	ctx := context.Background()
	var cur discoveryv1.EndpointSlice
	err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: slice.Name}, &cur)
	switch {
	case apierrors.IsNotFound(err):
		create(t, slice)
	case err != nil:
		t.Fatal(err)
	default:
		cur.Endpoints = slice.Endpoints
		if err := k8s.Update(ctx, &cur); err != nil {
			t.Fatalf("updating EndpointSlice: %v", err)
		}
	}
}

// sliceEndpoints is the Endpoints list of an EndpointSlice in ns listing eps.
func sliceEndpoints(ns string, eps ...endpointState) []discoveryv1.Endpoint {
	var out []discoveryv1.Endpoint
	for _, e := range eps {
		ready := !e.notReady && !e.terminating
		serving := !e.notReady
		out = append(out, discoveryv1.Endpoint{
			Addresses:  []string{e.ip},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &e.terminating},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: e.name, UID: e.uid},
		})
	}
	return out
}

func ready(bs ...*backend) []endpointState {
	var out []endpointState
	for _, b := range bs {
		out = append(out, endpointState{backend: b})
	}
	return out
}

// ingress creates an Ingress of class sticky routing host (all paths) to svc:80.
func ingress(t *testing.T, ns, name, host, svc string, annotations map[string]string) {
	t.Helper()
	create(t, newIngress(ns, name, host, svc, annotations))
}

func newIngress(ns, name, host, svc string, annotations map[string]string) *networkingv1.Ingress {
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: annotations},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("sticky"),
			Rules: []networkingv1.IngressRule{{
				Host: host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80},
						}},
					}},
				}},
			}},
		},
	}
}

func nameOf(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}

// app is one test's application: a namespace, backends, a Service "web" whose
// EndpointSlice lists them, and an Ingress for host routing to it.
type app struct {
	ns, host string
	backends []*backend
}

// deploy creates an app with n backends and the Ingress annotations given, and waits
// until c routes it.
func deploy(t *testing.T, c *controller, prefix string, n int, annotations map[string]string) app {
	t.Helper()
	a := app{ns: namespace(t), backends: startBackends(t, prefix, n)}
	a.host = a.ns + ".example.test"
	service(t, a.ns, "web")
	setEndpoints(t, a.ns, "web", ready(a.backends...)...)
	ingress(t, a.ns, "web", a.host, "web", annotations)
	routed(t, c, a.host)
	return a
}
