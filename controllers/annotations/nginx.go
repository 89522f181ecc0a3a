package annotations

import (
	"net/textproto"
	"regexp"
	"strings"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// hashKey is what an upstream-hash-by value hashes on: the client address, or a
// request attribute.
type hashKey struct {
	sourceIP bool
	header   *routetable.HeaderAffinity
}

// nginxVarRE is one nginx variable and nothing else: ingress-nginx accepts any
// expression, but only these have a meaning here.
var nginxVarRE = regexp.MustCompile(`^\$([A-Za-z0-9_]+)$`)

const hashByWant = "is not supported (want $remote_addr, $binary_remote_addr, $http_NAME, $cookie_NAME or $arg_NAME)"

// parseUpstreamHashBy maps an ingress-nginx upstream-hash-by value to our affinity.
func parseUpstreamHashBy(v string) (hashKey, string) {
	m := nginxVarRE.FindStringSubmatch(v)
	if m == nil {
		return hashKey{}, hashByWant
	}
	name := m[1]
	switch lower := strings.ToLower(name); {
	case lower == "remote_addr" || lower == "binary_remote_addr":
		return hashKey{sourceIP: true}, ""
	case strings.HasPrefix(lower, "http_") && len(name) > len("http_"):
		// nginx spells header X-User-Id as $http_x_user_id.
		h := textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(name[len("http_"):], "_", "-"))
		return hashKey{header: &routetable.HeaderAffinity{Name: h, Source: routetable.KeyFromHeader}}, ""
	case strings.HasPrefix(lower, "cookie_") && len(name) > len("cookie_"):
		return hashKey{header: &routetable.HeaderAffinity{Name: name[len("cookie_"):], Source: routetable.KeyFromCookie}}, ""
	case strings.HasPrefix(lower, "arg_") && len(name) > len("arg_"):
		return hashKey{header: &routetable.HeaderAffinity{Name: name[len("arg_"):], Source: routetable.KeyFromQuery}}, ""
	}
	return hashKey{}, hashByWant
}

// parseNginxLoadBalance maps ingress-nginx load-balance values. ewma (latency-weighted)
// has no equivalent; least-request (power of two choices on in-flight requests) is the
// nearest, and approx says so.
func parseNginxLoadBalance(v string) (lb routetable.LoadBalance, approx, ok bool) {
	switch strings.ToLower(v) {
	case "round_robin":
		return routetable.RoundRobin, false, true
	case "least_conn":
		return routetable.LeastRequest, false, true
	case "ewma":
		return routetable.LeastRequest, true, true
	}
	return "", false, false
}

// nginxAffinityModes are accepted and change nothing: ingress-nginx's balanced mode
// may move sessions when the upstream scales up, persistent never does. Our cookie
// names an endpoint and a session only moves when that endpoint is gone or unhealthy,
// so both are what we do; persistent-drainable matches our draining of terminating
// endpoints.
func isNginxAffinityMode(v string) bool {
	switch strings.ToLower(v) {
	case "balanced", "persistent", "persistent-drainable":
		return true
	}
	return false
}

// nginxFallback is what session-cookie-change-on-failure maps to, true or false.
// true is our rebalance. false is ingress-nginx's default, and there the pinned
// request is still retried on another upstream (proxy_next_upstream) and re-pinned
// when its upstream is gone; only the cookie of a request whose upstream merely
// failed is kept. Our strict answers 503 instead, which would turn a routine pod
// restart into errors for every migrated Ingress, so false maps to rebalance as well.
// Users who want 503s say sticky-ingress.io/fallback: strict.
const nginxFallback = routetable.Rebalance
