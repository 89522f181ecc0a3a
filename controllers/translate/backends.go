package translate

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/sticky-ingress/sticky-ingress/controllers/annotations"
	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// backendRef is an Ingress backend resolved against its Service.
type backendRef struct {
	namespace, service string
	// label is the Service port number, or the port's name when it did not resolve.
	label   string
	svc     *corev1.Service     // nil: no such Service
	svcPort *corev1.ServicePort // nil: no such port
}

// use is one place an Ingress sends traffic to a Service port: a route or the
// default backend. backend is its Backend's name, once decided.
type use struct {
	ing     *ingress
	ref     backendRef
	seq     int    // collection order, which breaks ties between uses of one Ingress
	base    string // ref.name(), once computed
	backend string
}

// resolveBackend finds the Service port an Ingress backend names. ok is false when the
// backend cannot be served at all (the route is left out, with a Warning). A missing
// Service or port is served — by a backend without endpoints — so that the mistake
// shows as 503s and an Event, not as requests silently reaching another rule.
func (b *builder) resolveBackend(ing *ingress, be networkingv1.IngressBackend) (backendRef, bool) {
	if be.Resource != nil {
		b.ev.warn(KindIngress, ing.key, ReasonUnsupportedBackend,
			"resource backend %s %s is not supported; its routes are not served", be.Resource.Kind, be.Resource.Name)
		return backendRef{}, false
	}
	s := be.Service
	if s == nil || s.Name == "" || (s.Port.Name == "" && s.Port.Number == 0) {
		b.ev.warn(KindIngress, ing.key, ReasonUnsupportedBackend,
			"a backend names no service and port; its routes are not served")
		return backendRef{}, false
	}
	ref := backendRef{namespace: ing.key.Namespace, service: s.Name, label: s.Port.Name}
	if s.Port.Name == "" {
		ref.label = strconv.Itoa(int(s.Port.Number))
	}
	ref.svc = b.services[nsName{Namespace: ref.namespace, Name: ref.service}]
	if ref.svc == nil {
		b.ev.warn(KindIngress, ing.key, ReasonServiceNotFound,
			"service %s not found: its routes answer 503 until it exists", ref.service)
		return ref, true
	}
	if ref.svc.Spec.Type == corev1.ServiceTypeExternalName {
		b.ev.warn(KindIngress, ing.key, ReasonExternalNameService,
			"service %s is of type ExternalName (%s), which is not supported; its routes are not served",
			ref.service, ref.svc.Spec.ExternalName)
		return backendRef{}, false
	}
	for i := range ref.svc.Spec.Ports {
		p := &ref.svc.Spec.Ports[i]
		if (s.Port.Name != "" && p.Name == s.Port.Name) || (s.Port.Name == "" && p.Port == s.Port.Number) {
			ref.svcPort = p
			ref.label = strconv.Itoa(int(p.Port))
			return ref, true
		}
	}
	b.ev.warn(KindIngress, ing.key, ReasonServicePortNotFound,
		"service %s has no port %s: its routes answer 503 until it does", ref.service, ref.label)
	return ref, true
}

// port is the resolved Service port number, 0 when unresolved.
func (r backendRef) port() int32 {
	if r.svcPort == nil {
		return 0
	}
	return r.svcPort.Port
}

// name is the backend's base name, "namespace/service:port".
func (r backendRef) name() string { return r.namespace + "/" + r.service + ":" + r.label }

// materializeBackends decides the backends and names every use's backend.
//
// A StickyPolicy targeting the Service port is authoritative: every use shares one
// backend "ns/svc:port" with the policy's affinity, and Ingresses whose affinity
// annotations it overrides get a Normal Event. Otherwise each use gets its Ingress's
// annotation affinity; uses with equal affinity share a backend. When one Service port
// is used with different affinities, every variant is named "ns/svc:port@ns/ingress"
// after the oldest Ingress using it, so no variant looks like the default one.
//
// sources, index-aligned with the backends, say which Service port each takes its
// endpoints from (for the Cache's fast path).
func (b *builder) materializeBackends() ([]routetable.Backend, []endpointSource) {
	// Grouped by one sort on (base name, Ingress age, collection order) rather than a
	// map of groups: it allocates nothing per group, and each group comes out in the
	// order that decides its variants' names.
	uses := make([]*use, 0, len(b.routes)+1)
	for i := range b.routes {
		uses = append(uses, &b.routes[i].use)
	}
	if b.dflt != nil {
		b.dflt.seq = len(b.routes)
		uses = append(uses, b.dflt)
	}
	for _, u := range uses {
		u.base = u.ref.name()
	}
	slices.SortFunc(uses, func(x, y *use) int {
		return cmp.Or(strings.Compare(x.base, y.base), cmp.Compare(x.ing.rank, y.ing.rank), cmp.Compare(x.seq, y.seq))
	})

	type variant struct {
		key   affinityKey
		first *ingress
		aff   annotations.Affinity
		name  string
	}
	var (
		variants []variant // of the current group; reused
		which    []int     // variant of each use of the current group; reused
	)
	type sourced struct {
		routetable.Backend
		src endpointSource
	}
	out := make([]sourced, 0, len(uses))
	for start := 0; start < len(uses); {
		end := start + 1
		for end < len(uses) && uses[end].base == uses[start].base {
			end++
		}
		group, base := uses[start:end], uses[start].base
		start = end

		ref := group[0].ref
		eps := b.endpoints(ref)
		var src endpointSource
		if ref.svcPort != nil {
			src = endpointSource{key: endpointKey{namespace: ref.namespace, service: ref.service, portName: ref.svcPort.Name}, ok: true}
		}
		if pol := b.policyFor(ref); pol != nil {
			for _, u := range group {
				u.backend = base
				if len(u.ing.ann.Keys) > 0 {
					b.ev.normal(KindIngress, u.ing.key, ReasonAnnotationOverridden,
						"affinity annotations (%s) do not apply to service %s port %s: StickyPolicy %s is authoritative",
						strings.Join(u.ing.ann.Keys, ", "), ref.service, ref.label, pol.key.Name)
				}
			}
			out = append(out, sourced{newBackend(base, eps, pol.affinity), src})
			continue
		}
		// Variants are few (usually one): a linear search beats a map per group.
		variants, which = variants[:0], which[:0]
		for _, u := range group {
			k := keyOf(u.ing.affinity)
			j := slices.IndexFunc(variants, func(v variant) bool { return v.key == k })
			if j < 0 {
				j = len(variants)
				variants = append(variants, variant{key: k, first: u.ing, aff: u.ing.affinity, name: base})
			}
			which = append(which, j)
		}
		if len(variants) > 1 {
			for j := range variants {
				variants[j].name = base + "@" + variants[j].first.source()
			}
		}
		for i, u := range group {
			u.backend = variants[which[i]].name
		}
		for _, v := range variants {
			out = append(out, sourced{newBackend(v.name, eps, v.aff), src})
		}
	}
	slices.SortFunc(out, func(x, y sourced) int { return strings.Compare(x.Name, y.Name) })
	backends, sources := make([]routetable.Backend, len(out)), make([]endpointSource, len(out))
	for i := range out {
		backends[i], sources[i] = out[i].Backend, out[i].src
	}
	return backends, sources
}

// newBackend copies the affinity so that no two backends share a pointer.
func newBackend(name string, eps []routetable.Endpoint, a annotations.Affinity) routetable.Backend {
	p := a.Policy
	if p.Cookie != nil {
		c := *p.Cookie
		p.Cookie = &c
	}
	if p.SourceIP != nil {
		s := *p.SourceIP
		p.SourceIP = &s
	}
	if p.Header != nil {
		h := *p.Header
		p.Header = &h
	}
	return routetable.Backend{Name: name, Endpoints: eps, LoadBalance: cmp.Or(a.LoadBalance, routetable.RoundRobin), Affinity: p}
}

// affinityKey is a comparable form of an Affinity.
type affinityKey struct {
	lb        routetable.LoadBalance
	fallback  routetable.Fallback
	factor    float64
	cookie    routetable.CookieAffinity
	sourceIP  routetable.SourceIPAffinity
	header    routetable.HeaderAffinity
	hasCookie bool
	hasSIP    bool
	hasHeader bool
}

func keyOf(a annotations.Affinity) affinityKey {
	k := affinityKey{lb: cmp.Or(a.LoadBalance, routetable.RoundRobin), fallback: a.Policy.Fallback, factor: a.Policy.BalanceFactor}
	if c := a.Policy.Cookie; c != nil {
		k.cookie, k.hasCookie = *c, true
	}
	if s := a.Policy.SourceIP; s != nil {
		k.sourceIP, k.hasSIP = *s, true
	}
	if h := a.Policy.Header; h != nil {
		k.header, k.hasHeader = *h, true
	}
	return k
}

// collectDefaultBackend takes spec.defaultBackend of the oldest Ingress that has a
// servable one; the others get a Warning.
func (b *builder) collectDefaultBackend() {
	var owner *ingress
	for _, ing := range b.served {
		be := ing.obj.Spec.DefaultBackend
		if be == nil {
			continue
		}
		if owner != nil {
			b.ev.warn(KindIngress, ing.key, ReasonDefaultBackendConflict,
				"spec.defaultBackend is ignored: ingress %s, which %s, sets the default backend", owner.key, olderThan(owner, ing))
			continue
		}
		ref, ok := b.resolveBackend(ing, *be)
		if !ok {
			continue
		}
		owner = ing
		b.dflt = &use{ing: ing, ref: ref}
	}
}
