package translate

import (
	"cmp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

type nsName = types.NamespacedName

// builder holds one build: the inputs indexed once, and what has been decided so far.
type builder struct {
	in                        Inputs
	className, controllerName string

	classes  map[string]*networkingv1.IngressClass
	services map[nsName]*corev1.Service
	slices   map[nsName][]*discoveryv1.EndpointSlice // by namespace/service-name label
	secrets  map[nsName]*corev1.Secret

	served   []*ingress // our class, oldest first
	policies policyIndex
	statuses []PolicyStatus
	routes   []pendingRoute
	dflt     *use // the default backend's use, if any
	lastGood map[nsName]LastGood
	// lastGoodReads are the Inputs.LastGood lookups made, which the Cache's fast path
	// must see unchanged.
	lastGoodReads map[nsName]lastGoodRead

	endpointCache map[endpointKey][]routetable.Endpoint
	ev            events
}

// Build translates the objects in in into a route table, the StickyPolicy conditions
// and the Events they imply. It is pure and deterministic.
func Build(in Inputs) Result {
	in.Cache.beginBuild()
	if in.Cache != nil {
		if res, ok := in.Cache.incremental(&in); ok {
			in.Cache.endIncremental()
			return res
		}
	}
	defer in.Cache.endBuild()
	b := newBuilder(in)
	b.selectIngresses()
	b.resolvePolicies()
	b.collectRoutes()
	b.collectDefaultBackend()

	snap := &routetable.Snapshot{}
	var sources []endpointSource
	snap.Backends, sources = b.materializeBackends()
	snap.VirtualHosts = b.virtualHosts()
	if b.dflt != nil {
		snap.DefaultBackend = b.dflt.backend
	}
	snap.Certificates = b.certificates()
	in.CertCache.endBuild()

	res := Result{
		Snapshot:       snap,
		PolicyStatuses: b.statuses,
		Events:         b.ev.sorted(),
		LastGood:       b.lastGood,
	}
	if len(b.served) > 0 {
		res.IngressesServed = make([]types.NamespacedName, 0, len(b.served))
	}
	for _, ing := range b.served {
		res.IngressesServed = append(res.IngressesServed, ing.key)
	}
	slices.SortFunc(res.IngressesServed, compareNames)
	in.Cache.remember(&in, b, res, sources)
	return res
}

func newBuilder(in Inputs) *builder {
	b := &builder{
		in:             in,
		className:      cmp.Or(in.IngressClassName, DefaultIngressClassName),
		controllerName: cmp.Or(in.ControllerName, DefaultControllerName),
		classes:        make(map[string]*networkingv1.IngressClass, len(in.IngressClasses)),
		services:       make(map[nsName]*corev1.Service, len(in.Services)),
		slices:         make(map[nsName][]*discoveryv1.EndpointSlice, len(in.Services)),
		secrets:        make(map[nsName]*corev1.Secret),
		// The previous build's count is the best guess of this one's.
		lastGood:      make(map[nsName]LastGood, len(in.LastGood)),
		endpointCache: map[endpointKey][]routetable.Endpoint{},
	}
	for i := range in.IngressClasses {
		c := &in.IngressClasses[i]
		b.classes[c.Name] = c
	}
	for i := range in.Services {
		s := &in.Services[i]
		b.services[nsName{Namespace: s.Namespace, Name: s.Name}] = s
	}
	for i := range in.EndpointSlices {
		s := &in.EndpointSlices[i]
		svc := s.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue // not managed for a Service
		}
		k := nsName{Namespace: s.Namespace, Name: svc}
		b.slices[k] = append(b.slices[k], s)
	}
	for i := range in.Secrets {
		s := &in.Secrets[i]
		b.secrets[nsName{Namespace: s.Namespace, Name: s.Name}] = s
	}
	return b
}

// olderFirst orders objects by creationTimestamp, then namespace/name: the order in
// which conflicts between Ingresses (and between StickyPolicies) are settled.
func olderFirst(a, b *metav1.ObjectMeta) int {
	if c := a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
}

// compareNames orders by namespace, then name. (strings.Compare rather than
// cmp.Compare, which compares strings twice: these sorts see 10k names a build.)
func compareNames(a, b nsName) int {
	return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
}
