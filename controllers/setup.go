package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	stickyv1 "github.com/sticky-ingress/sticky-ingress/api/v1alpha1"
)

// snapshotKey is the one reconcile key every event maps to.
var snapshotKey = reconcile.Request{NamespacedName: types.NamespacedName{Name: "route-table"}}

// CacheOptions limits what the manager's cache holds: one namespace when asked, only
// TLS Secrets (the only ones the translator reads), and no managedFields.
func CacheOptions(namespace string) cache.Options {
	opts := cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Field: fields.OneTermEqualSelector("type", string(corev1.SecretTypeTLS))},
		},
	}
	if namespace != "" {
		opts.DefaultNamespaces = map[string]cache.Config{namespace: {}}
	}
	return opts
}

// SetupWithManager registers the watches, the reconciler and (when s is set) the
// leader-only status writer.
func (r *SnapshotReconciler) SetupWithManager(mgr ctrl.Manager) error {
	toKey := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{snapshotKey}
	})
	b := ctrl.NewControllerManagedBy(mgr).
		Named("route-table").
		// One worker: builds are whole-table and serialised; the queue coalesces bursts.
		WithOptions(controller.Options{MaxConcurrentReconciles: 1})
	for _, obj := range []client.Object{
		&networkingv1.Ingress{}, &networkingv1.IngressClass{}, &corev1.Service{},
		&discoveryv1.EndpointSlice{}, &corev1.Secret{}, &stickyv1.StickyPolicy{},
	} {
		b = b.Watches(obj, toKey, builder.WithPredicates(changed{}))
	}
	if err := b.Complete(r); err != nil {
		return err
	}
	if r.Status != nil {
		return mgr.Add(r.Status)
	}
	return nil
}
