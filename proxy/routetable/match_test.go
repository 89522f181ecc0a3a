package routetable

import (
	"fmt"
	"testing"
)

// snap builds a snapshot whose backends are named after what the tests expect; each
// route "TYPE PATH -> BACKEND".
func snap(dflt string, hosts ...VirtualHost) *Snapshot {
	s := &Snapshot{DefaultBackend: dflt, VirtualHosts: hosts}
	seen := map[string]bool{}
	add := func(name string) {
		if name != "" && !seen[name] {
			seen[name] = true
			s.Backends = append(s.Backends, Backend{Name: name})
		}
	}
	add(dflt)
	for _, vh := range hosts {
		for _, r := range vh.Routes {
			add(r.Backend)
		}
	}
	return s
}

func vhost(host string, routes ...Route) VirtualHost { return VirtualHost{Host: host, Routes: routes} }

func exact(path, backend string) Route {
	return Route{Path: path, PathType: PathExact, Backend: backend}
}
func prefix(path, backend string) Route {
	return Route{Path: path, PathType: PathPrefix, Backend: backend}
}
func implSpecific(path, backend string) Route {
	return Route{Path: path, PathType: PathImplementationSpecific, Backend: backend}
}

// matchName returns the matched backend's name, "404" when nothing serves.
func matchName(m *Matcher, host, path string) string {
	_, i, ok := m.Match(host, path)
	if !ok {
		return "404"
	}
	return m.Snapshot().Backends[i].Name
}

// both compiles s twice, with and without path maps, so every case covers both.
func both(t *testing.T, s *Snapshot) map[string]*Matcher {
	t.Helper()
	out := map[string]*Matcher{}
	for name, th := range map[string]int{"scan": 1 << 30, "indexed": 0} {
		m, err := compile(s, th)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = m
	}
	return out
}

// TestMatchKubernetesPathExamples is the table of examples in the Kubernetes Ingress
// documentation (concepts/services-networking/ingress, "Examples").
func TestMatchKubernetesPathExamples(t *testing.T) {
	cases := []struct {
		name   string
		routes []Route
		path   string
		want   string
	}{
		{"prefix / matches all", []Route{prefix("/", "a")}, "/anything/at/all", "a"},
		{"exact /foo matches /foo", []Route{exact("/foo", "a")}, "/foo", "a"},
		{"exact /foo does not match /bar", []Route{exact("/foo", "a")}, "/bar", "404"},
		{"exact /foo does not match /foo/", []Route{exact("/foo", "a")}, "/foo/", "404"},
		{"exact /foo/ does not match /foo", []Route{exact("/foo/", "a")}, "/foo", "404"},
		{"prefix /foo matches /foo", []Route{prefix("/foo", "a")}, "/foo", "a"},
		{"prefix /foo matches /foo/", []Route{prefix("/foo", "a")}, "/foo/", "a"},
		{"prefix /foo/ matches /foo", []Route{prefix("/foo/", "a")}, "/foo", "a"},
		{"prefix /foo/ matches /foo/", []Route{prefix("/foo/", "a")}, "/foo/", "a"},
		{"prefix /aaa/bb does not match /aaa/bbb", []Route{prefix("/aaa/bb", "a")}, "/aaa/bbb", "404"},
		{"prefix /aaa/bbb matches /aaa/bbb", []Route{prefix("/aaa/bbb", "a")}, "/aaa/bbb", "a"},
		{"prefix /aaa/bbb/ ignores trailing slash", []Route{prefix("/aaa/bbb/", "a")}, "/aaa/bbb", "a"},
		{"prefix /aaa/bbb matches trailing slash", []Route{prefix("/aaa/bbb", "a")}, "/aaa/bbb/", "a"},
		{"prefix /aaa/bbb matches subpath", []Route{prefix("/aaa/bbb", "a")}, "/aaa/bbb/ccc", "a"},
		{"prefix /aaa/bbb is not a string prefix", []Route{prefix("/aaa/bbb", "a")}, "/aaa/bbbxyz", "404"},
		{"prefixes / and /aaa: /aaa wins for /aaa/ccc", []Route{prefix("/aaa", "aaa"), prefix("/", "root")}, "/aaa/ccc", "aaa"},
		{"prefixes /, /aaa, /aaa/bbb: longest wins", []Route{prefix("/aaa/bbb", "bbb"), prefix("/aaa", "aaa"), prefix("/", "root")}, "/aaa/bbb", "bbb"},
		{"prefixes /, /aaa, /aaa/bbb: / for /ccc", []Route{prefix("/aaa/bbb", "bbb"), prefix("/aaa", "aaa"), prefix("/", "root")}, "/ccc", "root"},
		{"prefix /aaa, /ccc: default backend", []Route{prefix("/aaa", "a")}, "/ccc", "404"},
		{"mixed /foo: exact preferred", []Route{prefix("/foo", "p"), exact("/foo", "e")}, "/foo", "e"},
		{"mixed /foo: prefix serves /foo/x", []Route{prefix("/foo", "p"), exact("/foo", "e")}, "/foo/x", "p"},
		{"implementation specific is prefix", []Route{implSpecific("/app", "a")}, "/app/x", "a"},
		{"implementation specific not string prefix", []Route{implSpecific("/app", "a")}, "/apple", "404"},
		{"empty path type is prefix", []Route{{Path: "/app", Backend: "a"}}, "/app/x", "a"},
		{"longest match regardless of order", []Route{prefix("/", "root"), prefix("/a/b/c", "abc"), prefix("/a", "a")}, "/a/b/c/d", "abc"},
		{"exact longer than prefix wins", []Route{prefix("/a", "p"), exact("/a/b", "e")}, "/a/b", "e"},
		{"tie keeps snapshot order", []Route{prefix("/a/", "first"), prefix("/a", "second")}, "/a/x", "first"},
		{"tie keeps snapshot order, reversed", []Route{prefix("/a", "first"), prefix("/a/", "second")}, "/a/x", "first"},
		{"root matches a path without slash", []Route{prefix("/", "root")}, "*", "root"},
		{"root matches empty path", []Route{prefix("/", "root")}, "", "root"},
		{"double slash is an empty element", []Route{prefix("/a", "a")}, "/a//b", "a"},
		{"case sensitive paths", []Route{prefix("/Foo", "a")}, "/foo", "404"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for mode, m := range both(t, snap("", vhost("h.example", tc.routes...))) {
				if got := matchName(m, "h.example", tc.path); got != tc.want {
					t.Errorf("%s: %s -> %s, want %s", mode, tc.path, got, tc.want)
				}
			}
		})
	}
}

func TestMatchHosts(t *testing.T) {
	s := snap("default",
		vhost("foo.example.com", prefix("/", "exact-host"), exact("/only", "exact-only")),
		vhost("*.example.com", prefix("/", "wildcard")),
		vhost("*.b.example.com", prefix("/", "deep-wildcard")),
		vhost("", prefix("/", "catch-all"), prefix("/api", "catch-all-api")),
	)
	cases := []struct{ host, path, want string }{
		{"foo.example.com", "/", "exact-host"},
		{"FOO.Example.COM", "/", "exact-host"},
		{"foo.example.com:8443", "/x", "exact-host"},
		{"foo.example.com.", "/x", "exact-host"},
		{"foo.example.com.:80", "/x", "exact-host"},
		{"bar.example.com", "/", "wildcard"},
		{"BAR.EXAMPLE.COM:80", "/", "wildcard"},
		{"a.b.example.com", "/", "deep-wildcard"},
		{"x.a.b.example.com", "/", "catch-all"}, // two extra labels: no wildcard
		{"a.c.example.com", "/", "catch-all"},
		{"example.com", "/", "catch-all"},  // the wildcard needs one label
		{".example.com", "/", "catch-all"}, // and it must not be empty
		{"other.test", "/api/v1", "catch-all-api"},
		{"", "/", "catch-all"},
		{"[::1]:8080", "/", "catch-all"},
		{"::1", "/", "catch-all"},
		{"10.0.0.1:80", "/", "catch-all"},
		{"foo.example.com", "/only", "exact-only"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s%s", tc.host, tc.path), func(t *testing.T) {
			for mode, m := range both(t, s) {
				if got := matchName(m, tc.host, tc.path); got != tc.want {
					t.Errorf("%s: %s %s -> %s, want %s", mode, tc.host, tc.path, got, tc.want)
				}
			}
		})
	}
}

// TestMatchHostWithoutMatchingPathUsesDefault: a host rule whose paths miss does not
// fall through to the wildcard or catch-all rules.
func TestMatchHostWithoutMatchingPathUsesDefault(t *testing.T) {
	s := snap("default",
		vhost("shop.example.com", prefix("/cart", "cart")),
		vhost("*.example.com", prefix("/", "wildcard")),
		vhost("", prefix("/", "catch-all")),
	)
	m, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	route, i, ok := m.Match("shop.example.com", "/other")
	if !ok || route != nil || s.Backends[i].Name != "default" {
		t.Fatalf("got route %v backend %d ok %v, want the default backend and no route", route, i, ok)
	}
	s.DefaultBackend = ""
	m, _ = Compile(s)
	if _, _, ok := m.Match("shop.example.com", "/other"); ok {
		t.Fatal("matched without a default backend, want 404")
	}
}

func TestMatchReturnsSnapshotRoute(t *testing.T) {
	s := snap("", vhost("h", prefix("/a", "x"), prefix("/", "y")))
	m, _ := Compile(s)
	r, i, ok := m.Match("h", "/a/b")
	if !ok || r != &s.VirtualHosts[0].Routes[0] || s.Backends[i].Name != "x" {
		t.Fatalf("got %p %d %v, want a pointer to the snapshot's route", r, i, ok)
	}
}

func TestCompileRejectsInvalid(t *testing.T) {
	s := snap("", vhost("h", prefix("/a", "x")))
	s.VirtualHosts[0].Routes[0].Backend = "missing"
	if _, err := Compile(s); err == nil {
		t.Fatal("compiled a route to a missing backend")
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	s := bigSnapshot(100, 40)
	m, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct{ host, path string }{
		{"Host-7.Example.COM:8443", "/svc-3/api/v1/items/42"},
		{"host-7.example.com", "/svc-3/api/v1/items/42"},
		{"x.wild-3.example.com", "/svc-1/z"},
		{"unknown.test", "/nothing"},
	} {
		if n := testing.AllocsPerRun(100, func() { m.Match(q.host, q.path) }); n != 0 {
			t.Errorf("Match(%q, %q) allocates %v times", q.host, q.path, n)
		}
	}
}
