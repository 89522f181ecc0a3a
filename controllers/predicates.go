package controllers

import (
	"maps"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	stickyv1 "github.com/sticky-ingress/sticky-ingress/api/v1alpha1"
)

// changed drops updates that cannot change the route table before they reach the
// workqueue: resyncs (same resourceVersion) and status writes — ours included — which
// bump resourceVersion but not generation.
type changed struct{ predicate.Funcs }

var _ predicate.Predicate = changed{}

func (changed) Update(e event.UpdateEvent) bool {
	if e.ObjectOld == nil || e.ObjectNew == nil {
		return true
	}
	return !unchanged(e.ObjectOld, e.ObjectNew)
}

// unchanged reports whether an update carries nothing the translator reads.
func unchanged(oldObj, newObj client.Object) bool {
	if oldObj.GetResourceVersion() == newObj.GetResourceVersion() {
		return true
	}
	switch newObj.(type) {
	case *networkingv1.Ingress, *networkingv1.IngressClass:
		// Editing an annotation (affinity settings, the legacy class, the default-class
		// marker) does not bump generation, so annotations are compared too.
		return oldObj.GetGeneration() == newObj.GetGeneration() &&
			maps.Equal(oldObj.GetAnnotations(), newObj.GetAnnotations())
	case *stickyv1.StickyPolicy:
		return oldObj.GetGeneration() == newObj.GetGeneration()
	}
	// Services, EndpointSlices and Secrets: every new resourceVersion may matter.
	return false
}
