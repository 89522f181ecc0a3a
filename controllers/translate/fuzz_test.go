package translate

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	stickyv1 "github.com/sticky-ingress/sticky-ingress/api/v1alpha1"
)

// FuzzBuild: whatever an Ingress, its Service, slice, Secret and a StickyPolicy say —
// as --manifests may hold them, unchecked by an API server — the snapshot is valid.
func FuzzBuild(f *testing.F) {
	f.Add("shop.example.com", "/", "Prefix", "http", "10.0.0.1", "sticky-ingress.io/affinity=cookie\nsticky-ingress.io/cookie-max-age=2h", "Cookie", "X-User", "1.5", "shop.example.com")
	f.Add("*.example.com", "/a b", "Exact", "", "fd00::1", "nginx.ingress.kubernetes.io/upstream-hash-by=$http_x_user_id", "Header", "", "0", "")
	f.Add("", "relative", "Regex", "https", "not-an-ip", "sticky-ingress.io/affinity=header", "Sticky", "X User", "NaN", "*")
	f.Add("UPPER.example.com", "/x/", "ImplementationSpecific", "http", "10.0.0.1", "sticky-ingress.io/cookie-samesite=None\nsticky-ingress.io/cookie-secure=false", "SourceIP", "a;b", "", "bad_host")
	f.Add("a.test", "/", "Prefix", "", "10.0.0.1", "sticky-ingress.io/affinity=cookie\nsticky-ingress.io/cookie-path=/a\x01", "", "", "", "")
	f.Fuzz(func(t *testing.T, host, path, pathType, portName, addr, ann, polType, headerName, factor, tlsHost string) {
		annotations := map[string]string{}
		for _, line := range strings.Split(ann, "\n") {
			k, v, _ := strings.Cut(line, "=")
			annotations[k] = v
		}
		backend := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "svc"}}
		if portName != "" {
			backend.Service.Port.Name = portName
		} else {
			backend.Service.Port.Number = 80
		}
		in := Inputs{
			Ingresses: []networkingv1.Ingress{{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ing", Annotations: annotations},
				Spec: networkingv1.IngressSpec{
					IngressClassName: ptr.To("sticky"),
					DefaultBackend:   &backend,
					TLS:              []networkingv1.IngressTLS{{Hosts: []string{tlsHost}, SecretName: "tls"}},
					Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{
						HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
							Path: path, PathType: ptr.To(networkingv1.PathType(pathType)), Backend: backend,
						}}},
					}}},
				},
			}},
			Services: []corev1.Service{{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "svc"},
				Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: portName, Port: 80, TargetPort: intstr.FromInt32(8080)}}},
			}},
			EndpointSlices: []discoveryv1.EndpointSlice{{
				ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: "svc-1", Labels: map[string]string{discoveryv1.LabelServiceName: "svc"}},
				AddressType: discoveryv1.AddressTypeIPv4,
				Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(portName), Port: ptr.To(int32(8080))}},
				Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{addr}}, {Addresses: []string{"10.0.0.1"}}},
			}},
			Secrets: []corev1.Secret{{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "tls"},
				Type:       corev1.SecretTypeTLS,
				Data:       map[string][]byte{corev1.TLSCertKey: []byte(headerName), corev1.TLSPrivateKeyKey: []byte(factor)},
			}},
			StickyPolicies: []stickyv1.StickyPolicy{{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "pol"},
				Spec: stickyv1.StickyPolicySpec{
					TargetRefs:        []stickyv1.TargetRef{{Name: "svc"}},
					Type:              stickyv1.AffinityType(polType),
					Header:            &stickyv1.HeaderPolicy{Name: headerName},
					Cookie:            &stickyv1.CookiePolicy{Name: headerName, Path: path, Domain: host},
					HashBalanceFactor: factor,
				},
			}},
		}
		res := Build(in)
		if err := checkSnapshot(res.Snapshot); err != nil {
			t.Fatalf("invalid snapshot: %v", err)
		}
	})
}
