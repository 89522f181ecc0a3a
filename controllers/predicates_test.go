package controllers

import (
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stickyv1 "github.com/sticky-ingress/sticky-ingress/api/v1alpha1"
)

func meta(rv string, gen int64, ann map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: "x", Namespace: "ns", ResourceVersion: rv, Generation: gen, Annotations: ann}
}

func TestUnchanged(t *testing.T) {
	a := map[string]string{"sticky-ingress.io/affinity": "cookie"}
	b := map[string]string{"sticky-ingress.io/affinity": "source-ip"}
	cases := []struct {
		name     string
		old, new client.Object
		want     bool
	}{
		{"resync of an ingress", &networkingv1.Ingress{ObjectMeta: meta("1", 1, a)}, &networkingv1.Ingress{ObjectMeta: meta("1", 1, a)}, true},
		{"ingress status write", &networkingv1.Ingress{ObjectMeta: meta("1", 1, a)}, &networkingv1.Ingress{ObjectMeta: meta("2", 1, a)}, true},
		{"ingress spec edit", &networkingv1.Ingress{ObjectMeta: meta("1", 1, a)}, &networkingv1.Ingress{ObjectMeta: meta("2", 2, a)}, false},
		{"ingress annotation edit", &networkingv1.Ingress{ObjectMeta: meta("1", 1, a)}, &networkingv1.Ingress{ObjectMeta: meta("2", 1, b)}, false},
		{"default-class marker edit", &networkingv1.IngressClass{ObjectMeta: meta("1", 1, nil)}, &networkingv1.IngressClass{ObjectMeta: meta("2", 1, a)}, false},
		{"policy status write", &stickyv1.StickyPolicy{ObjectMeta: meta("1", 3, nil)}, &stickyv1.StickyPolicy{ObjectMeta: meta("2", 3, nil)}, true},
		{"policy spec edit", &stickyv1.StickyPolicy{ObjectMeta: meta("1", 3, nil)}, &stickyv1.StickyPolicy{ObjectMeta: meta("2", 4, nil)}, false},
		{"endpointslice change", &discoveryv1.EndpointSlice{ObjectMeta: meta("1", 1, nil)}, &discoveryv1.EndpointSlice{ObjectMeta: meta("2", 1, nil)}, false},
		{"endpointslice resync", &discoveryv1.EndpointSlice{ObjectMeta: meta("7", 1, nil)}, &discoveryv1.EndpointSlice{ObjectMeta: meta("7", 1, nil)}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := unchanged(tc.old, tc.new); got != tc.want {
				t.Fatalf("unchanged = %v, want %v", got, tc.want)
			}
		})
	}
}
