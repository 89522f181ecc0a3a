package translate

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	stickyv1 "github.com/sticky-ingress/sticky-ingress/api/v1alpha1"
)

// scaleInputs is the control-plane benchmark's size: n Ingresses, n Services, each
// with eps endpoints in two slices; a tenth of the Ingresses carry cookie annotations
// and a tenth of the Services a StickyPolicy.
func scaleInputs(n, eps int) Inputs {
	in := Inputs{IngressClasses: []networkingv1.IngressClass{{
		ObjectMeta: metav1.ObjectMeta{Name: "sticky"},
		Spec:       networkingv1.IngressClassSpec{Controller: DefaultControllerName},
	}}}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		ns := fmt.Sprintf("ns-%d", i%100)
		name := fmt.Sprintf("app-%d", i)
		in.Services = append(in.Services, corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
		})
		for s := range 2 {
			slice := discoveryv1.EndpointSlice{
				ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-%d", name, s), Labels: map[string]string{discoveryv1.LabelServiceName: name}},
				AddressType: discoveryv1.AddressTypeIPv4,
				Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(8080))}},
			}
			for e := s; e < eps; e += 2 {
				slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
					Addresses: []string{fmt.Sprintf("10.%d.%d.%d", i/256%256, i%256, e)},
					TargetRef: &corev1.ObjectReference{Kind: "Pod", UID: types.UID(fmt.Sprintf("%s-%d", name, e))},
				})
			}
			in.EndpointSlices = append(in.EndpointSlices, slice)
		}
		ing := networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(base.Add(time.Duration(i) * time.Second))},
			Spec: networkingv1.IngressSpec{
				IngressClassName: ptr.To("sticky"),
				Rules: []networkingv1.IngressRule{{Host: name + ".example.com", IngressRuleValue: networkingv1.IngressRuleValue{
					HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
						{Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{
							Service: &networkingv1.IngressServiceBackend{Name: name, Port: networkingv1.ServiceBackendPort{Number: 80}}}},
						{Path: "/api", PathType: ptr.To(networkingv1.PathTypeExact), Backend: networkingv1.IngressBackend{
							Service: &networkingv1.IngressServiceBackend{Name: name, Port: networkingv1.ServiceBackendPort{Name: "http"}}}},
					}},
				}}},
			},
		}
		if i%10 == 0 {
			ing.Annotations = map[string]string{"sticky-ingress.io/affinity": "cookie", "sticky-ingress.io/cookie-max-age": "2h"}
		}
		in.Ingresses = append(in.Ingresses, ing)
		if i%10 == 5 {
			in.StickyPolicies = append(in.StickyPolicies, stickyv1.StickyPolicy{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec:       stickyv1.StickyPolicySpec{TargetRefs: []stickyv1.TargetRef{{Name: name}}, Type: stickyv1.AffinitySourceIP},
			})
		}
	}
	return in
}

// BenchmarkBuild10k: 10k Ingresses, 10k Services, 100k endpoints (budget: 1s a build).
func BenchmarkBuild10k(b *testing.B) {
	in := scaleInputs(10_000, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res := Build(in)
		if len(res.Snapshot.Backends) != 10_000 {
			b.Fatalf("%d backends", len(res.Snapshot.Backends))
		}
	}
}

func TestScaleSnapshotIsValid(t *testing.T) {
	res := Build(scaleInputs(1_000, 10))
	if err := checkSnapshot(res.Snapshot); err != nil {
		t.Fatal(err)
	}
	if len(res.Snapshot.VirtualHosts) != 1_000 || len(res.Snapshot.Backends[0].Endpoints) != 10 {
		t.Fatalf("%d hosts, %d endpoints", len(res.Snapshot.VirtualHosts), len(res.Snapshot.Backends[0].Endpoints))
	}
}

// withTLS gives every Ingress of in its own kubernetes.io/tls Secret (ECDSA P-256).
func withTLS(tb testing.TB, in Inputs) Inputs {
	tb.Helper()
	for i := range in.Ingresses {
		ing := &in.Ingresses[i]
		host := ing.Spec.Rules[0].Host
		crt, key := selfSigned(tb, host)
		in.Secrets = append(in.Secrets, corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ing.Namespace, Name: ing.Name + "-tls"},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
		})
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: ing.Name + "-tls"}}
	}
	return in
}

// BenchmarkBuild10kTLS: as BenchmarkBuild10k with a TLS Secret per Ingress, checked
// once and then remembered by the CertCache.
func BenchmarkBuild10kTLS(b *testing.B) {
	in := withTLS(b, scaleInputs(10_000, 10))
	in.CertCache = NewCertCache()
	Build(in) // fill the cache, as the first build after start does
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if res := Build(in); len(res.Snapshot.Certificates) != 10_000 {
			b.Fatalf("%d certificates", len(res.Snapshot.Certificates))
		}
	}
}

func TestCertCacheChangesNoResult(t *testing.T) {
	in := caseInputs(t, "testdata/tls.in.yaml")
	want := Build(in)
	in.CertCache = NewCertCache()
	for range 3 {
		if got := Build(in); !reflect.DeepEqual(got, want) {
			t.Fatalf("with a CertCache:\n%s", lineDiff(string(render(t, want)), string(render(t, got))))
		}
	}
	in.Secrets = nil
	Build(in)
	Build(in)
	if n := len(in.CertCache.prev) + len(in.CertCache.cur); n != 0 {
		t.Errorf("%d entries kept for Secrets that are gone", n)
	}
}

func selfSigned(tb testing.TB, host string) (crt, key []byte) {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2126, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		tb.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}
