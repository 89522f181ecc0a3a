package routetable

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Matcher answers "which route serves this host and path" for one Snapshot. It is
// built once per snapshot by Compile, is immutable, and is safe for concurrent use;
// Match allocates nothing.
//
// Semantics are those of Kubernetes Ingress:
//   - Hosts compare case-insensitively. An exact host beats a wildcard "*.example.com"
//     (which matches exactly one extra label: a.example.com, not a.b.example.com and
//     not example.com), which beats the catch-all "" host.
//   - Only the paths of the host that matched are considered: a request whose host
//     matches a rule but none of its paths goes to the default backend; it does not
//     fall through to a wildcard or to the catch-all host. This is what ingress-nginx,
//     Contour and Envoy Gateway do (one virtual host per name).
//   - Exact paths compare as strings. Prefix (and ImplementationSpecific, which is
//     treated as Prefix) match element-wise: "/foo" and "/foo/" both match "/foo",
//     "/foo/" and "/foo/bar", but not "/foobar"; "/" matches everything.
//   - The longest match wins (a Prefix route's length is that of its path without
//     trailing slashes); at equal length Exact beats Prefix; remaining ties keep the
//     snapshot's order.
type Matcher struct {
	snap     *Snapshot
	exact    map[string]*hostTable // lowercased host
	wildcard map[string]*hostTable // lowercased suffix after "*.", e.g. "example.com"
	any      *hostTable            // the "" host, or nil
	dflt     int                   // index of the default backend, -1 when none
	byName   map[string]int
}

// hostTable holds one virtual host's routes, ordered so that the first match is the
// answer. Hosts with many routes also get maps, so that a lookup costs one map probe
// per path element instead of a scan of every route.
type hostTable struct {
	routes []compiledRoute
	exact  map[string]int32 // path -> index in routes (first in order)
	prefix map[string]int32 // normalized prefix -> index in routes (first in order)
}

type compiledRoute struct {
	// path is the Exact path, or the Prefix path without trailing slashes ("/" -> "").
	path    string
	exact   bool
	route   *Route
	backend int
}

// indexThreshold is the route count from which a host gets path maps. Below it a
// linear scan of a few short string compares beats hashing.
const indexThreshold = 16

// Compile validates s and builds its Matcher. The Matcher points into s, which must
// not be modified afterwards (as the Snapshot contract already says).
func Compile(s *Snapshot) (*Matcher, error) {
	return compile(s, indexThreshold)
}

func compile(s *Snapshot, threshold int) (*Matcher, error) {
	if s == nil {
		return nil, fmt.Errorf("invalid route table: %w", s.Validate())
	}
	byName, err := s.validate()
	if err != nil {
		return nil, fmt.Errorf("invalid route table: %w", err)
	}
	m := &Matcher{
		snap:     s,
		exact:    make(map[string]*hostTable, len(s.VirtualHosts)),
		wildcard: make(map[string]*hostTable),
		dflt:     -1,
		byName:   byName,
	}
	if s.DefaultBackend != "" {
		m.dflt = m.byName[s.DefaultBackend]
	}
	// One array of host tables and one of routes for the whole snapshot: 10k hosts
	// would otherwise be 20k small allocations.
	n := 0
	for i := range s.VirtualHosts {
		n += len(s.VirtualHosts[i].Routes)
	}
	tables := make([]hostTable, len(s.VirtualHosts))
	routes := make([]compiledRoute, n)
	for i := range s.VirtualHosts {
		vh := &s.VirtualHosts[i]
		t := &tables[i]
		t.routes, routes = routes[:len(vh.Routes):len(vh.Routes)], routes[len(vh.Routes):]
		m.compileHost(t, vh, threshold)
		host := strings.ToLower(vh.Host)
		switch {
		case host == "":
			m.any = t
		case strings.HasPrefix(host, "*."):
			m.wildcard[host[2:]] = t
		default:
			m.exact[host] = t
		}
	}
	return m, nil
}

// compileHost fills t, whose routes have room for vh's.
func (m *Matcher) compileHost(t *hostTable, vh *VirtualHost, threshold int) {
	for i := range vh.Routes {
		r := &vh.Routes[i]
		cr := compiledRoute{route: r, backend: m.byName[r.Backend], exact: r.PathType == PathExact}
		if cr.exact {
			cr.path = r.Path
		} else {
			cr.path = strings.TrimRight(r.Path, "/")
		}
		t.routes[i] = cr
	}
	// Stable: equal keys keep the snapshot's order, which the builder made meaningful.
	slices.SortStableFunc(t.routes, func(a, b compiledRoute) int {
		return cmp.Or(-cmp.Compare(len(a.path), len(b.path)), rankExact(a.exact, b.exact))
	})
	if len(t.routes) >= threshold {
		t.exact = make(map[string]int32)
		t.prefix = make(map[string]int32)
		for i, r := range t.routes {
			idx := t.prefix
			if r.exact {
				idx = t.exact
			}
			if _, dup := idx[r.path]; !dup {
				idx[r.path] = int32(i)
			}
		}
	}
}

func rankExact(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// Snapshot returns the snapshot the Matcher was compiled from.
func (m *Matcher) Snapshot() *Snapshot { return m.snap }

// BackendIndex returns the index in Snapshot().Backends of the backend named name.
func (m *Matcher) BackendIndex(name string) (int, bool) {
	i, ok := m.byName[name]
	return i, ok
}

// Match finds the route for a request. host may carry a port ("shop.example.com:8443",
// "[::1]:80") and any letter case; Match strips the port and a trailing dot and folds
// case without allocating. path is the request's URL path without the query string.
//
// It returns the matched route and the index of its backend in Snapshot().Backends.
// When no route matches and the snapshot has a default backend, route is nil and
// backendIndex is the default backend's index (the caller then uses "/" as the route
// path, e.g. for a cookie). ok is false only when nothing serves the request (404).
func (m *Matcher) Match(host, path string) (route *Route, backendIndex int, ok bool) {
	if t := m.hostTable(host); t != nil {
		if r := t.match(path); r != nil {
			return r.route, r.backend, true
		}
	}
	if m.dflt >= 0 {
		return nil, m.dflt, true
	}
	return nil, -1, false
}

// maxHostLen is the longest DNS name; longer hosts cannot match a named rule.
const maxHostLen = 253

func (m *Matcher) hostTable(host string) *hostTable {
	host = stripPort(host)
	host = strings.TrimSuffix(host, ".")
	if host != "" && len(host) <= maxHostLen {
		// Fold case in a stack buffer: a map index expression of string(bytes) does
		// not allocate, where strings.ToLower would for every mixed-case host.
		var buf [maxHostLen]byte
		n := copy(buf[:], host)
		for i := 0; i < n; i++ {
			if c := buf[i]; 'A' <= c && c <= 'Z' {
				buf[i] = c + ('a' - 'A')
			}
		}
		if t := m.exact[string(buf[:n])]; t != nil {
			return t
		}
		if len(m.wildcard) > 0 {
			// The wildcard covers exactly one label: the first, which must be non-empty.
			if dot := indexByte(buf[:n], '.'); dot > 0 {
				if t := m.wildcard[string(buf[dot+1:n])]; t != nil {
					return t
				}
			}
		}
	}
	return m.any
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// stripPort removes a ":port" suffix. A bracketed IPv6 literal keeps its brackets; an
// unbracketed string with several colons is an IPv6 literal without a port.
func stripPort(h string) string {
	if strings.HasPrefix(h, "[") {
		if end := strings.IndexByte(h, ']'); end > 0 {
			return h[:end+1]
		}
		return h
	}
	if i := strings.IndexByte(h, ':'); i >= 0 && strings.IndexByte(h[i+1:], ':') < 0 {
		return h[:i]
	}
	return h
}

func (t *hostTable) match(path string) *compiledRoute {
	if t.prefix == nil {
		for i := range t.routes {
			r := &t.routes[i]
			if r.exact {
				if path == r.path {
					return r
				}
			} else if prefixMatch(r.path, path) {
				return r
			}
		}
		return nil
	}
	// An exact match has the length of the whole path, which no prefix match exceeds,
	// and Exact beats Prefix at equal length: so an exact hit is the answer.
	if i, ok := t.exact[path]; ok {
		return &t.routes[i]
	}
	// Candidate prefixes, longest first: the whole path, then the path cut before
	// each '/' from the right. The first one present is the longest match.
	end := len(path)
	for {
		if i, ok := t.prefix[path[:end]]; ok {
			return &t.routes[i]
		}
		if end == 0 {
			return nil
		}
		// A path without a leading '/' still reaches the root prefix.
		end = max(strings.LastIndexByte(path[:end], '/'), 0)
	}
}

// prefixMatch reports whether the normalized prefix p (no trailing slash, "" for "/")
// matches path element-wise. The root prefix matches every path, even one that does
// not begin with '/' (such as "*" of OPTIONS *).
func prefixMatch(p, path string) bool {
	return p == "" || strings.HasPrefix(path, p) && (len(path) == len(p) || path[len(p)] == '/')
}
