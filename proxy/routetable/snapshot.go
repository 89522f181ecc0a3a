// Package routetable holds the data plane's model: plain Go values that say which
// hosts and paths go to which backends, which endpoints serve each backend, and how
// affinity is applied. The controller builds a Snapshot; the proxy compiles and serves
// it. Nothing here knows about Kubernetes or about HTTP serving.
//
// A Snapshot is immutable once handed to the proxy: builders must not modify it (or
// anything it points to) afterwards.
package routetable

import "time"

// Snapshot is one complete, consistent routing configuration.
type Snapshot struct {
	// VirtualHosts are sorted by Host: exact hosts, then wildcard hosts, then the
	// catch-all "" host (rules without a host).
	VirtualHosts []VirtualHost `json:"virtualHosts,omitempty"`
	// DefaultBackend names the backend for requests no rule matches ("" = 404).
	DefaultBackend string `json:"defaultBackend,omitempty"`
	// Backends are sorted by Name; routes refer to them by Name.
	Backends []Backend `json:"backends,omitempty"`
	// Certificates are served by SNI; requests for other names get the default certificate.
	Certificates []Certificate `json:"certificates,omitempty"`
}

// VirtualHost groups the routes of one host.
type VirtualHost struct {
	// Host is an exact DNS name ("shop.example.com"), a wildcard ("*.example.com",
	// matching exactly one extra label) or "" (any host).
	Host string `json:"host"`
	// Routes are sorted by precedence: longest path first; at equal length Exact before
	// Prefix; then by Source (which the builder orders oldest Ingress first).
	Routes []Route `json:"routes,omitempty"`
}

// PathType is the Kubernetes Ingress path type.
type PathType string

// Path types, with Kubernetes Ingress semantics.
const (
	PathExact                  PathType = "Exact"
	PathPrefix                 PathType = "Prefix"                 // element-wise: /foo matches /foo and /foo/bar, not /foobar
	PathImplementationSpecific PathType = "ImplementationSpecific" // treated as Prefix
)

// Route sends matching requests to a backend.
type Route struct {
	Path     string   `json:"path"`
	PathType PathType `json:"pathType"`
	// Backend is the Name of an entry in Snapshot.Backends.
	Backend string `json:"backend"`
	// Source names the object the route came from ("namespace/ingress"), for logs.
	Source string `json:"source,omitempty"`
}

// LoadBalance is how a backend picks an endpoint for a request that has no session yet.
type LoadBalance string

// Load-balance methods for new sessions.
const (
	RoundRobin   LoadBalance = "RoundRobin"
	LeastRequest LoadBalance = "LeastRequest" // power of two random choices on in-flight requests
)

// Backend is a set of endpoints that share one affinity policy; one picker is compiled
// per backend.
type Backend struct {
	// Name is unique within the snapshot, e.g. "shop/cart:80". Backends of the same
	// Service port with different policies (from different Ingresses' annotations)
	// carry a suffix naming the Ingress.
	Name string `json:"name"`
	// Endpoints are sorted by ID.
	Endpoints   []Endpoint     `json:"endpoints,omitempty"`
	LoadBalance LoadBalance    `json:"loadBalance,omitempty"`
	Affinity    AffinityPolicy `json:"affinity"`
}

// Endpoint is one network destination of a backend.
type Endpoint struct {
	// ID is the endpoint's stable identity: the Pod UID when known, else
	// "namespace/service/address:port". Cookies are derived from it, never from the address.
	ID string `json:"id"`
	// Address is "host:port" (IPv6 hosts in brackets).
	Address string `json:"address"`
	// Weight is relative (default 1 when 0).
	Weight int32 `json:"weight,omitempty"`
	// Conditions, as in an EndpointSlice. A ready endpoint takes new sessions; a
	// serving+terminating one only keeps the sessions it has (draining).
	Ready       bool `json:"ready"`
	Serving     bool `json:"serving"`
	Terminating bool `json:"terminating,omitempty"`
}

// AffinityPolicy is a union: at most one of Cookie, SourceIP and Header is set.
// None set means no affinity (every request is load-balanced).
type AffinityPolicy struct {
	Cookie   *CookieAffinity   `json:"cookie,omitempty"`
	SourceIP *SourceIPAffinity `json:"sourceIP,omitempty"`
	Header   *HeaderAffinity   `json:"header,omitempty"`
	// Fallback says what happens when the pinned endpoint is gone or unhealthy.
	Fallback Fallback `json:"fallback,omitempty"`
	// BalanceFactor bounds the load of consistent hashing (e.g. 1.25: no endpoint takes
	// more than ceil(1.25 × mean) in-flight requests). 0 = unbounded.
	BalanceFactor float64 `json:"balanceFactor,omitempty"`
}

// Mode names the kind of affinity set in the policy.
func (a AffinityPolicy) Mode() string {
	switch {
	case a.Cookie != nil:
		return "cookie"
	case a.SourceIP != nil:
		return "source-ip"
	case a.Header != nil:
		return "header"
	}
	return "none"
}

// Fallback is what a pinned request does when its endpoint cannot serve it.
type Fallback string

// Fallbacks.
const (
	Rebalance Fallback = "Rebalance" // pick anew and re-pin (default)
	Strict    Fallback = "Strict"    // 503, the session is kept
)

// CookieSecure says when the affinity cookie carries the Secure attribute.
type CookieSecure string

// Secure modes.
const (
	SecureAuto   CookieSecure = "Auto" // when the request came over TLS
	SecureAlways CookieSecure = "Always"
	SecureNever  CookieSecure = "Never"
)

// SameSite is the cookie's SameSite attribute.
type SameSite string

// SameSite values; "" omits the attribute.
const (
	SameSiteLax    SameSite = "Lax"
	SameSiteStrict SameSite = "Strict"
	SameSiteNone   SameSite = "None" // forces Secure
)

// CookieAffinity pins a client with a proxy-issued cookie whose value is an opaque
// token derived from the endpoint's ID.
type CookieAffinity struct {
	Name string `json:"name"`
	// Path "" means the path of the route that matched.
	Path   string `json:"path,omitempty"`
	Domain string `json:"domain,omitempty"`
	// MaxAge 0 means a session cookie (no Max-Age, no Expires).
	MaxAge   time.Duration `json:"maxAge,omitempty"`
	Secure   CookieSecure  `json:"secure,omitempty"`
	HTTPOnly bool          `json:"httpOnly"`
	SameSite SameSite      `json:"sameSite,omitempty"`
}

// SourceIPAffinity hashes the client address, optionally masked to a prefix
// (IPv4 24 is nginx's ip_hash).
type SourceIPAffinity struct {
	IPv4PrefixLength int `json:"ipv4PrefixLength"` // 1..32; 0 is treated as 32
	IPv6PrefixLength int `json:"ipv6PrefixLength"` // 1..128; 0 is treated as 128
}

// KeySource says where a header-affinity key is read from.
type KeySource string

// Key sources.
const (
	KeyFromHeader KeySource = "Header"
	KeyFromCookie KeySource = "Cookie" // an application cookie, e.g. nginx's $cookie_JSESSIONID
	KeyFromQuery  KeySource = "Query"  // a query parameter, e.g. nginx's $arg_user
)

// HeaderAffinity hashes a request attribute. Requests without the key are load-balanced.
type HeaderAffinity struct {
	Name   string    `json:"name"`
	Source KeySource `json:"source,omitempty"` // "" = Header
}

// Certificate is a TLS certificate and key, served for Hosts by SNI.
type Certificate struct {
	// Hosts are exact or wildcard names, sorted.
	Hosts []string `json:"hosts"`
	// Source names the Secret ("namespace/name"), for logs.
	Source  string `json:"source"`
	CertPEM []byte `json:"-"`
	KeyPEM  []byte `json:"-"`
}
