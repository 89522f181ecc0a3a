package translate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// pendingRoute is a route whose backend name is decided once every use of every
// Service port is known (backends.go).
type pendingRoute struct {
	host  string
	route routetable.Route
	ing   *ingress
	use   use
}

type routeKey struct {
	host, path string
	pathType   routetable.PathType
}

// collectRoutes walks the rules of our Ingresses, oldest first, so that of two routes
// with the same host, path and path type the older Ingress's is kept; the other
// Ingress gets a Warning. Routes that merely overlap (/foo Prefix and /foo Exact, or
// /foo and /foo/) are all kept: the proxy's order decides, as Kubernetes specifies.
func (b *builder) collectRoutes() {
	// Sized for every path: growing a map or slice of 10k entries allocates and
	// copies it several times.
	n := 0
	for _, ing := range b.served {
		for _, rule := range ing.obj.Spec.Rules {
			if rule.HTTP != nil {
				n += len(rule.HTTP.Paths)
			}
		}
	}
	owner := make(map[routeKey]*ingress, n)
	b.routes = make([]pendingRoute, 0, n)
	for _, ing := range b.served {
		for _, rule := range ing.obj.Spec.Rules {
			host := strings.ToLower(rule.Host)
			if msg := checkHost(host); msg != "" {
				b.ev.warn(KindIngress, ing.key, ReasonInvalidRule, "rule host %q %s; its paths are not served", rule.Host, msg)
				continue
			}
			if rule.HTTP == nil {
				continue
			}
			for _, p := range rule.HTTP.Paths {
				path, pathType, ok := b.pathOf(ing, host, p)
				if !ok {
					continue
				}
				ref, ok := b.resolveBackend(ing, p.Backend)
				if !ok {
					continue
				}
				k := routeKey{host: host, path: path, pathType: pathType}
				if prev := owner[k]; prev != nil {
					b.routeConflict(ing, prev, k)
					continue
				}
				owner[k] = ing
				b.routes = append(b.routes, pendingRoute{
					host:  host,
					route: routetable.Route{Path: path, PathType: pathType, Source: ing.source()},
					ing:   ing,
					use:   use{ing: ing, ref: ref, seq: len(b.routes)},
				})
			}
		}
	}
}

func (b *builder) routeConflict(ing, prev *ingress, k routeKey) {
	what := fmt.Sprintf("host %s path %s (%s)", displayHost(k.host), k.path, k.pathType)
	if prev == ing {
		b.ev.warn(KindIngress, ing.key, ReasonRouteConflict, "%s appears twice in this Ingress; the first one is served", what)
		return
	}
	b.ev.warn(KindIngress, ing.key, ReasonRouteConflict,
		"%s is already routed by ingress %s, which %s; this one is not served", what, prev.key, olderThan(prev, ing))
}

func displayHost(h string) string {
	if h == "" {
		return "*"
	}
	return h
}

// checkHost accepts "", DNS names and wildcards of one leading label (*.example.com).
func checkHost(host string) string {
	if host == "" {
		return ""
	}
	if strings.HasPrefix(host, "*") {
		if !isWildcardSubdomain(host) {
			return "is not a valid wildcard host (want *.example.com)"
		}
		return ""
	}
	if !isSubdomain(host) {
		return "is not a valid host name"
	}
	return ""
}

// pathOf validates one HTTP path. A missing path is "/" and, when its type is
// missing too, Prefix (a rule without paths means everything); a missing type alone is
// ImplementationSpecific, the API's old default. The API server refuses relative
// paths; --manifests input is not checked by it, so they are refused here.
func (b *builder) pathOf(ing *ingress, host string, p networkingv1.HTTPIngressPath) (string, routetable.PathType, bool) {
	path := p.Path
	var pathType routetable.PathType
	switch {
	case p.PathType == nil && path == "":
		pathType = routetable.PathPrefix
	case p.PathType == nil:
		pathType = routetable.PathImplementationSpecific
	default:
		switch *p.PathType {
		case networkingv1.PathTypeExact:
			pathType = routetable.PathExact
		case networkingv1.PathTypePrefix:
			pathType = routetable.PathPrefix
		case networkingv1.PathTypeImplementationSpecific:
			pathType = routetable.PathImplementationSpecific
		default:
			b.ev.warn(KindIngress, ing.key, ReasonInvalidRule,
				"host %s path %q: pathType %q is not Exact, Prefix or ImplementationSpecific; the path is not served",
				displayHost(host), p.Path, *p.PathType)
			return "", "", false
		}
	}
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") {
		b.ev.warn(KindIngress, ing.key, ReasonInvalidRule,
			"host %s path %q is not absolute (want a path starting with /); the path is not served", displayHost(host), p.Path)
		return "", "", false
	}
	if i := strings.IndexFunc(path, func(r rune) bool { return r <= ' ' || r == 0x7f }); i >= 0 {
		b.ev.warn(KindIngress, ing.key, ReasonInvalidRule,
			"host %s path %q has a space or control character; the path is not served", displayHost(host), p.Path)
		return "", "", false
	}
	return path, pathType, true
}

// virtualHosts groups the routes by host: exact hosts, then wildcards, then "", each
// group by name. Routes: longest path first; at equal length Exact, Prefix,
// ImplementationSpecific; then the older Ingress first; then by path, so that the
// order is total. The length of a Prefix (or ImplementationSpecific) path does not
// count its trailing slashes, because Kubernetes matches /foo/ like /foo: for a request
// of /foo, Exact /foo must come before Prefix /foo/ ("Exact beats Prefix").
func (b *builder) virtualHosts() []routetable.VirtualHost {
	// One sort of all routes by host and then precedence, cut into hosts: no map of
	// hosts, and one array holds every host's routes.
	rs := make([]*pendingRoute, len(b.routes))
	for i := range b.routes {
		rs[i] = &b.routes[i]
	}
	slices.SortFunc(rs, func(x, y *pendingRoute) int {
		if x.host != y.host {
			return compareHosts(x.host, y.host)
		}
		return cmp.Or(
			-cmp.Compare(matchLen(x.route), matchLen(y.route)),
			cmp.Compare(pathTypeRank(x.route.PathType), pathTypeRank(y.route.PathType)),
			cmp.Compare(x.ing.rank, y.ing.rank),
			strings.Compare(x.route.Path, y.route.Path),
		)
	})
	routes := make([]routetable.Route, len(rs))
	for i, r := range rs {
		routes[i] = r.route
		routes[i].Backend = r.use.backend
	}
	n := 0
	for i := range rs {
		if i == 0 || rs[i].host != rs[i-1].host {
			n++
		}
	}
	vhosts := make([]routetable.VirtualHost, 0, n)
	for start := 0; start < len(rs); {
		end := start + 1
		for end < len(rs) && rs[end].host == rs[start].host {
			end++
		}
		// A full slice expression, so that appending to one host's routes could never
		// write into the next host's.
		vhosts = append(vhosts, routetable.VirtualHost{Host: rs[start].host, Routes: routes[start:end:end]})
		start = end
	}
	return vhosts
}

func hostGroup(h string) int {
	switch {
	case h == "":
		return 2
	case strings.HasPrefix(h, "*."):
		return 1
	}
	return 0
}

func compareHosts(a, b string) int {
	return cmp.Or(cmp.Compare(hostGroup(a), hostGroup(b)), strings.Compare(a, b))
}

func pathTypeRank(t routetable.PathType) int {
	switch t {
	case routetable.PathExact:
		return 0
	case routetable.PathPrefix:
		return 1
	}
	return 2
}

// matchLen is the length that orders a route: its path's, without the trailing
// slashes of a prefix ("/" counts 0), as the proxy's matcher measures it.
func matchLen(r routetable.Route) int {
	if r.PathType == routetable.PathExact {
		return len(r.Path)
	}
	return len(strings.TrimRight(r.Path, "/"))
}

// olderThan says why prev takes precedence over ing.
func olderThan(prev, ing *ingress) string {
	if prev.obj.CreationTimestamp.Equal(&ing.obj.CreationTimestamp) {
		return "is as old and comes first by namespace/name"
	}
	return "is older"
}
