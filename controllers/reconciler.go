package controllers

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	stickyv1 "github.com/sticky-ingress/sticky-ingress/api/v1alpha1"
	"github.com/sticky-ingress/sticky-ingress/controllers/translate"
	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// SnapshotSink takes a new route table; the proxy server is one. It returns an error
// (and keeps serving the previous table) when the table cannot be compiled.
type SnapshotSink interface {
	Update(*routetable.Snapshot) error
}

// Builder turns the listed objects into a route table and the status it implies;
// *Translator is the one in use.
type Builder interface {
	Build(translate.Inputs) translate.Result
}

// SnapshotReconciler rebuilds the whole route table from the cache on every change.
// Every watched object maps to one key, so a burst of changes becomes one rebuild.
type SnapshotReconciler struct {
	Reader    client.Reader
	Namespace string // "" = all namespaces
	Builder   Builder
	Sink      SnapshotSink
	Status    *StatusWriter // nil: no status is written
	Log       logr.Logger
}

var _ reconcile.Reconciler = (*SnapshotReconciler)(nil)

// Reconcile lists, builds, and swaps the table in.
func (r *SnapshotReconciler) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	start := time.Now()
	objs, err := r.list(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	res := r.Builder.Build(objs)
	snap := res.Snapshot
	if err := r.Sink.Update(snap); err != nil {
		// The proxy keeps the table it has: nothing that was working is dropped.
		r.Log.Error(err, "route table rejected by the proxy; the previous one keeps serving")
		return reconcile.Result{}, nil
	}
	if r.Status != nil {
		r.Status.Set(res)
	}
	r.Log.V(1).Info("route table served", "hosts", len(snap.VirtualHosts), "backends", len(snap.Backends),
		"took", time.Since(start).String())
	return reconcile.Result{}, nil
}

func (r *SnapshotReconciler) list(ctx context.Context) (translate.Inputs, error) {
	var (
		objs      translate.Inputs
		ingresses networkingv1.IngressList
		classes   networkingv1.IngressClassList
		services  corev1.ServiceList
		slices    discoveryv1.EndpointSliceList
		secrets   corev1.SecretList
		policies  stickyv1.StickyPolicyList
	)
	var opts []client.ListOption
	if r.Namespace != "" {
		opts = append(opts, client.InNamespace(r.Namespace))
	}
	for _, l := range []struct {
		list client.ObjectList
		opts []client.ListOption
	}{
		{&ingresses, opts}, {&classes, nil}, {&services, opts}, {&slices, opts}, {&secrets, opts}, {&policies, opts},
	} {
		if err := r.Reader.List(ctx, l.list, l.opts...); err != nil {
			return objs, fmt.Errorf("listing %T from the cache: %w", l.list, err)
		}
	}
	objs.Ingresses = ingresses.Items
	objs.IngressClasses = classes.Items
	objs.Services = services.Items
	objs.EndpointSlices = slices.Items
	objs.Secrets = secrets.Items
	objs.StickyPolicies = policies.Items
	return objs, nil
}
