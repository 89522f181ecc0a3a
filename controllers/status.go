package controllers

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	stickyv1 "github.com/sticky-ingress/sticky-ingress/api/v1alpha1"
	"github.com/sticky-ingress/sticky-ingress/controllers/translate"
)

// PublishOptions say what goes into Ingress status.loadBalancer.
type PublishOptions struct {
	// Service "namespace/name" whose load-balancer addresses (else external IPs, else
	// cluster IP) are published.
	Service string
	// Addresses (IPs or hostnames) published as they are; they win over Service.
	Addresses []string
}

// StatusWriter applies a build's status (StickyPolicy conditions, Ingress
// status.loadBalancer, Events) to the cluster. It runs on the leader only; every
// replica calls Publish, and the one that leads writes. Writes go through the API
// server only when the cluster differs from what is desired, so a rebuild that changes
// nothing costs no requests.
type StatusWriter struct {
	Client  client.Client // reads from the cache, writes to the API server
	Events  EventSink
	Publish PublishOptions
	Log     logr.Logger

	mu      sync.Mutex
	desired *translate.Result
	wake    chan struct{}
	emitted map[translate.Event]bool
}

var (
	_ manager.Runnable               = (*StatusWriter)(nil)
	_ manager.LeaderElectionRunnable = (*StatusWriter)(nil)
)

// EventSink emits one Kubernetes Event about an object.
type EventSink interface {
	Emit(ctx context.Context, obj client.Object, ev translate.Event)
}

// NeedLeaderElection: only the leader writes status and Events.
func (w *StatusWriter) NeedLeaderElection() bool { return true }

// Set records the latest build and wakes the writer; it never blocks.
func (w *StatusWriter) Set(res translate.Result) {
	w.mu.Lock()
	w.desired = &res
	if w.wake == nil {
		w.wake = make(chan struct{}, 1)
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Start writes whenever Set was called, until ctx ends.
func (w *StatusWriter) Start(ctx context.Context) error {
	w.mu.Lock()
	if w.wake == nil {
		w.wake = make(chan struct{}, 1)
	}
	wake := w.wake
	w.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		}
		w.mu.Lock()
		d := w.desired
		w.mu.Unlock()
		if d != nil {
			w.apply(ctx, d)
		}
	}
}

func (w *StatusWriter) apply(ctx context.Context, d *translate.Result) {
	failed := false
	for _, p := range d.PolicyStatuses {
		if err := w.writePolicy(ctx, p); err != nil {
			w.Log.Error(err, "writing StickyPolicy status", "stickypolicy", p.NamespacedName())
			failed = true
		}
	}
	if lb, ok := w.loadBalancerStatus(ctx); ok {
		for _, name := range d.IngressesServed {
			if err := w.writeIngress(ctx, name, lb); err != nil {
				w.Log.Error(err, "writing Ingress status", "ingress", name)
				failed = true
			}
		}
	}
	w.emitEvents(ctx, d.Events)
	if failed {
		// The API server may be away; try the same desired state again shortly.
		time.AfterFunc(retryInterval, func() {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		})
	}
}

const retryInterval = 5 * time.Second

// emitEvents emits each distinct event once while it stays true: an event that
// disappears from the build (the problem was fixed) and comes back is emitted again.
func (w *StatusWriter) emitEvents(ctx context.Context, events []translate.Event) {
	if w.Events == nil {
		return
	}
	next := make(map[translate.Event]bool, len(events))
	for _, ev := range events {
		next[ev] = true
		if w.emitted[ev] {
			continue
		}
		obj, err := w.regarding(ctx, ev)
		if err != nil {
			continue // the object is gone; nothing to attach the event to
		}
		w.Events.Emit(ctx, obj, ev)
	}
	w.emitted = next
}

// regarding fetches the object an event is about, from the cache.
func (w *StatusWriter) regarding(ctx context.Context, ev translate.Event) (client.Object, error) {
	var obj client.Object
	switch ev.Regarding.Kind {
	case translate.KindIngress:
		obj = &networkingv1.Ingress{}
	case translate.KindStickyPolicy:
		obj = &stickyv1.StickyPolicy{}
	case translate.KindService:
		obj = &corev1.Service{}
	default:
		return nil, fmt.Errorf("event about unknown kind %q", ev.Regarding.Kind)
	}
	return obj, w.Client.Get(ctx, ev.Regarding.NamespacedName(), obj)
}

func (w *StatusWriter) writePolicy(ctx context.Context, want translate.PolicyStatus) error {
	var p stickyv1.StickyPolicy
	if err := w.Client.Get(ctx, want.NamespacedName(), &p); err != nil {
		return client.IgnoreNotFound(err)
	}
	if p.Generation != want.Generation {
		return nil // a newer spec is on its way through the cache; its build will write
	}
	before := p.DeepCopy()
	for _, c := range want.Conditions {
		c.ObservedGeneration = p.Generation
		apimeta.SetStatusCondition(&p.Status.Conditions, c)
	}
	if conditionsEqual(before.Status.Conditions, p.Status.Conditions) {
		return nil
	}
	err := w.Client.Status().Patch(ctx, &p, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsConflict(err) {
		return nil // the cache is behind; the watch event that follows brings a new build
	}
	return err
}

func conditionsEqual(a, b []metav1.Condition) bool {
	return slices.EqualFunc(a, b, func(x, y metav1.Condition) bool {
		return x.Type == y.Type && x.Status == y.Status && x.Reason == y.Reason &&
			x.Message == y.Message && x.ObservedGeneration == y.ObservedGeneration
	})
}

func (w *StatusWriter) writeIngress(ctx context.Context, name types.NamespacedName, lb networkingv1.IngressLoadBalancerStatus) error {
	var ing networkingv1.Ingress
	if err := w.Client.Get(ctx, name, &ing); err != nil {
		return client.IgnoreNotFound(err)
	}
	if equalLoadBalancer(ing.Status.LoadBalancer, lb) {
		return nil
	}
	before := ing.DeepCopy()
	ing.Status.LoadBalancer = lb
	return client.IgnoreNotFound(w.Client.Status().Patch(ctx, &ing, client.MergeFrom(before)))
}

// loadBalancerStatus is what every served Ingress shows; ok is false when nothing is
// configured to publish (then Ingress status is left alone).
func (w *StatusWriter) loadBalancerStatus(ctx context.Context) (networkingv1.IngressLoadBalancerStatus, bool) {
	var lb networkingv1.IngressLoadBalancerStatus
	addrs := w.Publish.Addresses
	if len(addrs) == 0 && w.Publish.Service != "" {
		var err error
		if addrs, err = w.serviceAddresses(ctx); err != nil {
			w.Log.Error(err, "reading --publish-service", "service", w.Publish.Service)
			return lb, false
		}
	}
	if len(addrs) == 0 {
		return lb, false
	}
	for _, a := range addrs {
		if net.ParseIP(a) != nil {
			lb.Ingress = append(lb.Ingress, networkingv1.IngressLoadBalancerIngress{IP: a})
		} else {
			lb.Ingress = append(lb.Ingress, networkingv1.IngressLoadBalancerIngress{Hostname: a})
		}
	}
	return lb, true
}

func (w *StatusWriter) serviceAddresses(ctx context.Context) ([]string, error) {
	ns, name, ok := strings.Cut(w.Publish.Service, "/")
	if !ok {
		return nil, fmt.Errorf("--publish-service %q: want namespace/name", w.Publish.Service)
	}
	var svc corev1.Service
	if err := w.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &svc); err != nil {
		return nil, err
	}
	var out []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			out = append(out, in.IP)
		} else if in.Hostname != "" {
			out = append(out, in.Hostname)
		}
	}
	if len(out) == 0 {
		out = append(out, svc.Spec.ExternalIPs...)
	}
	if len(out) == 0 && svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone {
		out = append(out, svc.Spec.ClusterIP)
	}
	return out, nil
}

func equalLoadBalancer(a, b networkingv1.IngressLoadBalancerStatus) bool {
	return slices.EqualFunc(a.Ingress, b.Ingress, func(x, y networkingv1.IngressLoadBalancerIngress) bool {
		return x.IP == y.IP && x.Hostname == y.Hostname
	})
}
