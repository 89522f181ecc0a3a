// Package v1alpha1 contains the sticky-ingress.io/v1alpha1 API: StickyPolicy.
// +kubebuilder:object:generate=true
// +groupName=sticky-ingress.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API group and version of StickyPolicy.
	GroupVersion = schema.GroupVersion{Group: "sticky-ingress.io", Version: "v1alpha1"}

	// SchemeBuilder registers this package's types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds this package's types to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
