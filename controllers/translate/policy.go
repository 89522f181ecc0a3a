package translate

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stickyv1 "github.com/sticky-ingress/sticky-ingress/api/v1alpha1"
	"github.com/sticky-ingress/sticky-ingress/controllers/annotations"
	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// policy is a valid StickyPolicy.
type policy struct {
	obj      *stickyv1.StickyPolicy
	key      nsName
	affinity annotations.Affinity
}

// target is what a StickyPolicy claims: a Service, or one port of it (port 0 = all).
type target struct {
	namespace, service string
	port               int32
}

func (t target) String() string {
	if t.port == 0 {
		return "service " + t.service
	}
	return fmt.Sprintf("service %s port %d", t.service, t.port)
}

// policyIndex maps each claimed target to the policy in force for it.
type policyIndex map[target]*policy

// policyFor is the policy in force for a backend: one targeting its port beats one
// targeting the whole Service (the more specific claim wins; they do not conflict).
func (b *builder) policyFor(ref backendRef) *policy {
	if ref.svc == nil {
		return nil
	}
	if p := ref.port(); p != 0 {
		if pol := b.policies[target{ref.namespace, ref.service, p}]; pol != nil {
			return pol
		}
	}
	return b.policies[target{ref.namespace, ref.service, 0}]
}

// resolvePolicies validates every StickyPolicy, settles who owns each target and
// writes the conditions:
//
//   - Accepted=False/Invalid: the spec cannot be applied (the API server's CEL rules
//     refuse most such specs; --manifests input is not checked by it). An invalid
//     policy claims nothing, so it cannot shadow a valid one.
//   - Accepted=False/Conflicted: an older policy (then first by name) already claims
//     one of its targets — the same Service, or the same Service port. The policy stays
//     in force for the targets it does own; the message lists both.
//   - Accepted=True/Accepted otherwise, also when no target exists yet (as in the
//     Gateway API: acceptance is about the policy, ResolvedRefs about its targets).
//   - ResolvedRefs=False/TargetNotFound when a target Service, or the named port of
//     it, does not exist; True/ResolvedRefs otherwise.
func (b *builder) resolvePolicies() {
	b.policies = policyIndex{}
	ps := make([]*stickyv1.StickyPolicy, len(b.in.StickyPolicies))
	for i := range b.in.StickyPolicies {
		ps[i] = &b.in.StickyPolicies[i]
	}
	slices.SortFunc(ps, func(x, y *stickyv1.StickyPolicy) int { return olderFirst(&x.ObjectMeta, &y.ObjectMeta) })
	for _, obj := range ps {
		key := nsName{Namespace: obj.Namespace, Name: obj.Name}
		targets, missing := b.policyTargets(obj)
		var conds []metav1.Condition
		aff, invalid := policyAffinity(&obj.Spec)
		switch {
		case len(invalid) > 0:
			msg := strings.Join(invalid, "; ")
			conds = append(conds, condition(stickyv1.ConditionAccepted, false, stickyv1.ReasonInvalid, msg+"; the policy is not applied"))
			b.ev.warn(KindStickyPolicy, key, ReasonPolicyInvalid, "%s; the policy is not applied", msg)
		default:
			pol := &policy{obj: obj, key: key, affinity: aff}
			var owned, conflicts []string
			for _, t := range targets {
				if prev := b.policies[t]; prev != nil {
					conflicts = append(conflicts, fmt.Sprintf("%s is already targeted by StickyPolicy %s, which %s",
						t, prev.key.Name, precedence(prev.obj, obj)))
					continue
				}
				b.policies[t] = pol
				owned = append(owned, t.String())
			}
			if len(conflicts) > 0 {
				msg := strings.Join(conflicts, "; ")
				if len(owned) > 0 {
					msg += "; in force for " + strings.Join(owned, ", ")
				} else {
					msg += "; not in force for any target"
				}
				conds = append(conds, condition(stickyv1.ConditionAccepted, false, stickyv1.ReasonConflicted, msg))
				b.ev.warn(KindStickyPolicy, key, ReasonPolicyConflict, "%s", msg)
			} else if len(owned) > 0 {
				conds = append(conds, condition(stickyv1.ConditionAccepted, true, stickyv1.ReasonAccepted,
					"in force for "+strings.Join(owned, ", ")))
			} else {
				conds = append(conds, condition(stickyv1.ConditionAccepted, true, stickyv1.ReasonAccepted,
					"valid; none of its targets exists yet"))
			}
		}
		if len(missing) > 0 {
			conds = append(conds, condition(stickyv1.ConditionResolvedRefs, false, stickyv1.ReasonTargetNotFound, strings.Join(missing, "; ")))
		} else {
			conds = append(conds, condition(stickyv1.ConditionResolvedRefs, true, stickyv1.ReasonResolvedRefs, "every target exists"))
		}
		for i := range conds {
			conds[i].ObservedGeneration = obj.Generation
		}
		b.statuses = append(b.statuses, PolicyStatus{Namespace: obj.Namespace, Name: obj.Name, Generation: obj.Generation, Conditions: conds})
	}
	slices.SortFunc(b.statuses, func(x, y PolicyStatus) int { return compareNames(x.NamespacedName(), y.NamespacedName()) })
}

func precedence(older, newer *stickyv1.StickyPolicy) string {
	if older.CreationTimestamp.Equal(&newer.CreationTimestamp) {
		return "is as old and comes first by name"
	}
	return "is older"
}

func condition(typ string, ok bool, reason, msg string) metav1.Condition {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg}
}

// policyTargets resolves the targetRefs (duplicates counted once).
func (b *builder) policyTargets(obj *stickyv1.StickyPolicy) (found []target, missing []string) {
	seen := map[target]bool{}
	for _, ref := range obj.Spec.TargetRefs {
		t := target{namespace: obj.Namespace, service: ref.Name}
		if ref.Port != nil {
			t.port = *ref.Port
		}
		if seen[t] {
			continue
		}
		seen[t] = true
		svc := b.services[nsName{Namespace: obj.Namespace, Name: ref.Name}]
		if svc == nil {
			missing = append(missing, fmt.Sprintf("service %s not found", ref.Name))
			continue
		}
		if t.port != 0 && !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == t.port }) {
			missing = append(missing, fmt.Sprintf("service %s has no port %d", ref.Name, t.port))
			continue
		}
		found = append(found, t)
	}
	return found, missing
}

// policyAffinity maps a StickyPolicy spec onto the route table, applying the CRD's
// defaults (cookie STICKY, HttpOnly, SameSite Lax, Secure Auto; prefixes 32/128; key
// source Header; Rebalance; RoundRobin). invalid lists what the CRD's validation
// would have refused, and what the proxy cannot do (a Max-Age that is not whole
// seconds would round to 0, deleting the cookie).
func policyAffinity(spec *stickyv1.StickyPolicySpec) (a annotations.Affinity, invalid []string) {
	bad := func(format string, args ...any) { invalid = append(invalid, fmt.Sprintf(format, args...)) }
	if len(spec.TargetRefs) == 0 {
		bad("spec.targetRefs: at least one target is required")
	}
	if spec.Cookie != nil && spec.Type != stickyv1.AffinityCookie {
		bad("spec.cookie: may only be set when type is Cookie")
	}
	if spec.SourceIP != nil && spec.Type != stickyv1.AffinitySourceIP {
		bad("spec.sourceIP: may only be set when type is SourceIP")
	}
	if spec.Header != nil && spec.Type != stickyv1.AffinityHeader {
		bad("spec.header: may only be set when type is Header")
	}
	switch spec.Type {
	case stickyv1.AffinityCookie:
		a.Policy.Cookie = policyCookie(spec.Cookie, bad)
	case stickyv1.AffinitySourceIP:
		s := &routetable.SourceIPAffinity{IPv4PrefixLength: 32, IPv6PrefixLength: 128}
		if p := spec.SourceIP; p != nil {
			if p.IPv4PrefixLength != 0 {
				s.IPv4PrefixLength = int(p.IPv4PrefixLength)
			}
			if p.IPv6PrefixLength != 0 {
				s.IPv6PrefixLength = int(p.IPv6PrefixLength)
			}
		}
		if s.IPv4PrefixLength < 1 || s.IPv4PrefixLength > 32 {
			bad("spec.sourceIP.ipv4PrefixLength: %d is not 1 to 32", s.IPv4PrefixLength)
		}
		if s.IPv6PrefixLength < 1 || s.IPv6PrefixLength > 128 {
			bad("spec.sourceIP.ipv6PrefixLength: %d is not 1 to 128", s.IPv6PrefixLength)
		}
		a.Policy.SourceIP = s
	case stickyv1.AffinityHeader:
		h := &routetable.HeaderAffinity{Source: routetable.KeyFromHeader}
		if spec.Header == nil || spec.Header.Name == "" {
			bad("spec.header.name: required when type is Header")
		} else {
			h.Name = spec.Header.Name
			if !annotations.IsHeaderName(h.Name) {
				bad("spec.header.name: %q is not a header, cookie or query parameter name", h.Name)
			}
			switch spec.Header.Source {
			case "", stickyv1.HeaderSourceHeader:
			case stickyv1.HeaderSourceCookie:
				h.Source = routetable.KeyFromCookie
			case stickyv1.HeaderSourceQuery:
				h.Source = routetable.KeyFromQuery
			default:
				bad("spec.header.source: %q is not Header, Cookie or Query", spec.Header.Source)
			}
		}
		a.Policy.Header = h
	default:
		bad("spec.type: %q is not Cookie, SourceIP or Header", spec.Type)
	}
	switch spec.Fallback {
	case "", stickyv1.FallbackRebalance:
		a.Policy.Fallback = routetable.Rebalance
	case stickyv1.FallbackStrict:
		a.Policy.Fallback = routetable.Strict
	default:
		bad("spec.fallback: %q is not Rebalance or Strict", spec.Fallback)
	}
	switch spec.LoadBalance {
	case "", stickyv1.LoadBalanceRoundRobin:
		a.LoadBalance = routetable.RoundRobin
	case stickyv1.LoadBalanceLeastRequest:
		a.LoadBalance = routetable.LeastRequest
	default:
		bad("spec.loadBalance: %q is not RoundRobin or LeastRequest", spec.LoadBalance)
	}
	if spec.HashBalanceFactor != "" {
		f, msg := annotations.ParseBalanceFactor(spec.HashBalanceFactor)
		if msg != "" {
			bad("spec.hashBalanceFactor: %q %s", spec.HashBalanceFactor, msg)
		}
		// Only consistent hashing is bounded; a cookie session's first pick is not.
		if spec.Type != stickyv1.AffinityCookie {
			a.Policy.BalanceFactor = f
		}
	}
	return a, invalid
}

func policyCookie(p *stickyv1.CookiePolicy, bad func(string, ...any)) *routetable.CookieAffinity {
	c := &routetable.CookieAffinity{Name: annotations.DefaultCookieName, Secure: routetable.SecureAuto,
		HTTPOnly: true, SameSite: routetable.SameSiteLax}
	if p == nil {
		return c
	}
	if p.Name != "" {
		c.Name = p.Name
		if !annotations.IsCookieName(p.Name) {
			bad("spec.cookie.name: %q is not a cookie name", p.Name)
		}
	}
	if p.Path != "" {
		c.Path = p.Path
		if !annotations.IsCookiePath(p.Path) {
			bad("spec.cookie.path: %q is not a cookie path", p.Path)
		}
	}
	if p.Domain != "" {
		c.Domain = p.Domain
		if !annotations.IsCookieDomain(p.Domain) {
			bad("spec.cookie.domain: %q is not a cookie domain", p.Domain)
		}
	}
	if p.MaxAge != nil {
		c.MaxAge = p.MaxAge.Duration
		if _, msg := annotations.ParseMaxAge(p.MaxAge.Duration.String()); msg != "" {
			bad("spec.cookie.maxAge: %q %s", p.MaxAge.Duration.String(), msg)
		}
	}
	if p.HTTPOnly != nil {
		c.HTTPOnly = *p.HTTPOnly
	}
	switch p.Secure {
	case "", stickyv1.CookieSecureAuto:
	case stickyv1.CookieSecureAlways:
		c.Secure = routetable.SecureAlways
	case stickyv1.CookieSecureNever:
		c.Secure = routetable.SecureNever
	default:
		bad("spec.cookie.secure: %q is not Auto, Always or Never", p.Secure)
	}
	switch p.SameSite {
	case "", stickyv1.SameSiteLax:
	case stickyv1.SameSiteStrict:
		c.SameSite = routetable.SameSiteStrict
	case stickyv1.SameSiteNone:
		c.SameSite = routetable.SameSiteNone
		if c.Secure == routetable.SecureNever {
			bad("spec.cookie.sameSite: None requires a Secure cookie, so secure must not be Never")
		}
		// Browsers drop SameSite=None cookies that are not Secure: say so in the table.
		c.Secure = routetable.SecureAlways
	default:
		bad("spec.cookie.sameSite: %q is not Strict, Lax or None", p.SameSite)
	}
	return c
}
