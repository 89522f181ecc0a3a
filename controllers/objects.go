package controllers

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"

	stickyv1 "github.com/sticky-ingress/sticky-ingress/api/v1alpha1"
)

// Objects is everything the route table is built from, as listed from the cache (or
// read from manifest files).
type Objects struct {
	Ingresses      []networkingv1.Ingress
	IngressClasses []networkingv1.IngressClass
	Services       []corev1.Service
	EndpointSlices []discoveryv1.EndpointSlice
	Secrets        []corev1.Secret
	Policies       []stickyv1.StickyPolicy
}
