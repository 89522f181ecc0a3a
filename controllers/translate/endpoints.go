package translate

import (
	"cmp"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

type endpointKey struct {
	namespace, service, portName string
}

// endpoints lists the endpoints of a Service port, from the EndpointSlices labelled
// with the Service's name. Slices name their ports after the Service's ports (an
// unnamed single port is ""), so the port is matched by name; its number in the slice
// is the target port. The result is cached per build, and across builds by
// Inputs.Cache: every backend variant of a Service port shares it (the snapshot is
// immutable).
func (b *builder) endpoints(ref backendRef) []routetable.Endpoint {
	if ref.svcPort == nil {
		return nil
	}
	k := endpointKey{namespace: ref.namespace, service: ref.service, portName: ref.svcPort.Name}
	all := b.slices[nsName{Namespace: ref.namespace, Name: ref.service}]
	collect := func() []routetable.Endpoint { return collectEndpoints(ref.svc, ref.svcPort.Name, all) }
	if b.in.Cache != nil {
		return b.in.Cache.endpoints(k, primaryV6(ref.svc), all, collect)
	}
	if eps, ok := b.endpointCache[k]; ok {
		return eps
	}
	eps := collect()
	b.endpointCache[k] = eps
	return eps
}

// primaryV6: the Service's primary IP family is IPv6 (its dual-stack Pods are reached
// on their IPv6 address).
func primaryV6(svc *corev1.Service) bool {
	return len(svc.Spec.IPFamilies) > 0 && svc.Spec.IPFamilies[0] == corev1.IPv6Protocol
}

// collectEndpoints merges the slices' endpoints:
//
//   - Only an endpoint's first address counts (the EndpointSlice API defines no
//     meaning for others).
//   - The same address:port in several slices (a slice being replaced) is one
//     endpoint, with the most available conditions of its copies and the Pod UID if
//     any copy names one; this does not depend on the order of the slices.
//   - Conditions: ready nil = true, serving nil = ready, terminating nil = false.
//   - The same Pod in an IPv4 and an IPv6 slice (dual stack) is one endpoint, since
//     its identity — which cookies are derived from — must be unique in a backend:
//     the address of the Service's primary IP family is kept.
//
// Rather than maps by address and by ID, the endpoints are deduplicated by sorting:
// a Service has a handful of them, and a build collects 100k (merge and
// preferAddress are order-independent, so the result is the same).
func collectEndpoints(svc *corev1.Service, portName string, all []*discoveryv1.EndpointSlice) []routetable.Endpoint {
	n := 0
	for _, s := range all {
		n += len(s.Endpoints)
	}
	eps := make([]routetable.Endpoint, 0, n)
	for _, s := range all {
		port := slicePort(s, portName)
		if port == 0 {
			continue
		}
		portStr := strconv.Itoa(int(port))
		for _, e := range s.Endpoints {
			if len(e.Addresses) == 0 || !validAddress(s.AddressType, e.Addresses[0]) {
				continue
			}
			addr := net.JoinHostPort(e.Addresses[0], portStr)
			ep := routetable.Endpoint{Address: addr}
			ep.Ready = e.Conditions.Ready == nil || *e.Conditions.Ready
			ep.Serving = ep.Ready
			if e.Conditions.Serving != nil {
				ep.Serving = *e.Conditions.Serving
			}
			ep.Terminating = e.Conditions.Terminating != nil && *e.Conditions.Terminating
			if e.TargetRef != nil && e.TargetRef.Kind == "Pod" && e.TargetRef.UID != "" {
				ep.ID = string(e.TargetRef.UID)
			} else {
				ep.ID = svc.Namespace + "/" + svc.Name + "/" + addr
			}
			eps = append(eps, ep)
		}
	}
	if len(eps) == 0 {
		return nil
	}
	// One endpoint per address: copies merged into the first of their run.
	slices.SortFunc(eps, func(x, y routetable.Endpoint) int { return strings.Compare(x.Address, y.Address) })
	w := 0
	for i := range eps {
		if w > 0 && eps[w-1].Address == eps[i].Address {
			merge(&eps[w-1], eps[i])
			continue
		}
		eps[w] = eps[i]
		w++
	}
	eps = eps[:w]
	// One endpoint per identity: the preferred address of each run of one ID.
	slices.SortFunc(eps, func(x, y routetable.Endpoint) int {
		return cmp.Or(strings.Compare(x.ID, y.ID), strings.Compare(x.Address, y.Address))
	})
	v6 := primaryV6(svc)
	w = 0
	for i := range eps {
		switch {
		case w == 0 || eps[w-1].ID != eps[i].ID:
			eps[w] = eps[i]
			w++
		case preferAddress(eps[i].Address, eps[w-1].Address, v6):
			eps[w-1] = eps[i]
		}
	}
	return slices.Clip(eps[:w])
}

// slicePort is the number of the slice's port named name, 0 when it has none.
func slicePort(s *discoveryv1.EndpointSlice, name string) int32 {
	for _, p := range s.Ports {
		pn := ""
		if p.Name != nil {
			pn = *p.Name
		}
		if pn != name || p.Port == nil {
			continue
		}
		if p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP {
			continue
		}
		return *p.Port
	}
	return 0
}

// validAddress refuses addresses that do not match the slice's type (the API server
// checks them; --manifests input is not checked by it).
func validAddress(t discoveryv1.AddressType, a string) bool {
	switch t {
	case discoveryv1.AddressTypeIPv4:
		ip, err := netip.ParseAddr(a)
		return err == nil && ip.Is4()
	case discoveryv1.AddressTypeIPv6:
		ip, err := netip.ParseAddr(a)
		return err == nil && ip.Is6() && !ip.Is4In6()
	case discoveryv1.AddressTypeFQDN:
		return a != ""
	}
	return false
}

// merge folds a duplicate of an endpoint into it: available if any copy is.
func merge(into *routetable.Endpoint, other routetable.Endpoint) {
	into.Ready = into.Ready || other.Ready
	into.Serving = into.Serving || other.Serving
	into.Terminating = into.Terminating && other.Terminating
	if isDerivedID(into.ID) && !isDerivedID(other.ID) {
		into.ID = other.ID
	} else if isDerivedID(into.ID) == isDerivedID(other.ID) && other.ID < into.ID {
		into.ID = other.ID
	}
}

// isDerivedID: an ID made up from namespace/service/address rather than a Pod UID.
func isDerivedID(id string) bool {
	for i := 0; i < len(id); i++ {
		if id[i] == '/' {
			return true
		}
	}
	return false
}

// preferAddress: a over b for the same endpoint identity.
func preferAddress(a, b string, primaryV6 bool) bool {
	av6, bv6 := isV6HostPort(a), isV6HostPort(b)
	if av6 != bv6 {
		return av6 == primaryV6
	}
	return a < b
}

func isV6HostPort(hp string) bool { return len(hp) > 0 && hp[0] == '[' }
