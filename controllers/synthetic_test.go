package controllers

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/sticky-ingress/sticky-ingress/controllers/translate"
)

// syntheticCluster makes a cluster of the given size for scale benchmarks: each
// Ingress has its own host and routes to its own Service, whose endpoints are spread
// over slices of at most 100, as the EndpointSlice controller would. Every object has
// a resourceVersion, as one listed from the API server does.
func syntheticCluster(ingresses, endpointsPerService int) translate.Inputs {
	objs := translate.Inputs{IngressClasses: []networkingv1.IngressClass{{
		ObjectMeta: metav1.ObjectMeta{Name: "sticky", ResourceVersion: "1"},
		Spec:       networkingv1.IngressClassSpec{Controller: "sticky-ingress.io/ingress-controller"},
	}}}
	for i := 0; i < ingresses; i++ {
		ns := fmt.Sprintf("ns-%d", i%100)
		name := fmt.Sprintf("app-%d", i)
		objs.Services = append(objs.Services, corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, ResourceVersion: "1"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{
				Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080),
			}}},
		})
		objs.EndpointSlices = append(objs.EndpointSlices, syntheticSlices(ns, name, i, endpointsPerService)...)
		annotations := map[string]string{"sticky-ingress.io/affinity": []string{"cookie", "source-ip", "header"}[i%3]}
		if i%3 == 2 {
			annotations["sticky-ingress.io/hash-header"] = "X-User-Id"
		}
		objs.Ingresses = append(objs.Ingresses, networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: annotations, ResourceVersion: "1",
				CreationTimestamp: metav1.Unix(int64(1700000000+i), 0)},
			Spec: networkingv1.IngressSpec{
				IngressClassName: ptr.To("sticky"),
				Rules: []networkingv1.IngressRule{{
					Host: fmt.Sprintf("%s.%s.example.com", name, ns),
					IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
						Paths: []networkingv1.HTTPIngressPath{{
							Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
							Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
								Name: name, Port: networkingv1.ServiceBackendPort{Number: 80},
							}},
						}},
					}},
				}},
			},
		})
	}
	return objs
}

// syntheticSlices gives service number i its endpoints; version changes the addresses'
// readiness pattern so a benchmark can apply an update.
func syntheticSlices(ns, svc string, i, endpoints int) []discoveryv1.EndpointSlice {
	var out []discoveryv1.EndpointSlice
	for start := 0; start < endpoints; start += 100 {
		slice := discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{
				Name: fmt.Sprintf("%s-%d", svc, start/100), Namespace: ns, ResourceVersion: "1",
				Labels: map[string]string{discoveryv1.LabelServiceName: svc},
			},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(8080))}},
		}
		for e := start; e < min(endpoints, start+100); e++ {
			slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
				Addresses:  []string{syntheticAddress(i*endpoints + e)},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: fmt.Sprintf("%s-%d", svc, e),
					UID: types.UID(fmt.Sprintf("%s-%s-%d", ns, svc, e))},
			})
		}
		out = append(out, slice)
	}
	return out
}

// syntheticAddress numbers addresses inside 198.18.0.0/15, the benchmarking range (no
// traffic is sent to them; they only fill route tables).
func syntheticAddress(n int) string {
	return fmt.Sprintf("198.%d.%d.%d", 18+(n>>16)&1, (n>>8)&255, n&255)
}
