package translate

import (
	"strings"
	"testing"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// matchRoute is a reference matcher with Kubernetes semantics over the emitted order:
// the first route that matches wins, so the order alone must give the Ingress rules'
// precedence.
func matchRoute(s *routetable.Snapshot, host, path string) string {
	for _, vh := range s.VirtualHosts {
		if vh.Host != host {
			continue
		}
		for _, r := range vh.Routes {
			if routeMatches(r, path) {
				return r.Backend
			}
		}
	}
	return s.DefaultBackend
}

func routeMatches(r routetable.Route, path string) bool {
	if r.PathType == routetable.PathExact {
		return path == r.Path
	}
	p := strings.TrimRight(r.Path, "/") // element-wise: /foo/ matches like /foo
	return p == "" || path == p || strings.HasPrefix(path, p+"/")
}

// TestKubernetesPathExamples replays the Kubernetes documentation's path-matching
// table against the order Build emits.
func TestKubernetesPathExamples(t *testing.T) {
	snap := Build(loadInputs(t, "testdata/paths-k8s-docs.in.yaml")).Snapshot
	const (
		a, b, c, none = "web/a:80", "web/b:80", "web/c:80", "web/fallback:80"
	)
	tests := []struct {
		host, path, want, row string
	}{
		{"p01", "/", a, "Prefix / matches all paths"},
		{"p01", "/anything/at/all", a, "Prefix / matches all paths"},
		{"p02", "/foo", a, "Exact /foo matches /foo"},
		{"p02", "/bar", none, "Exact /foo does not match /bar"},
		{"p02", "/foo/", none, "Exact /foo does not match /foo/"},
		{"p03", "/foo", none, "Exact /foo/ does not match /foo"},
		{"p04", "/foo", a, "Prefix /foo matches /foo"},
		{"p04", "/foo/", a, "Prefix /foo matches /foo/"},
		{"p05", "/foo", a, "Prefix /foo/ matches /foo"},
		{"p05", "/foo/", a, "Prefix /foo/ matches /foo/"},
		{"p06", "/aaa/bbb", none, "Prefix /aaa/bb does not match /aaa/bbb"},
		{"p07", "/aaa/bbb", a, "Prefix /aaa/bbb matches /aaa/bbb"},
		{"p08", "/aaa/bbb", a, "Prefix /aaa/bbb/ matches /aaa/bbb, ignoring the trailing slash"},
		{"p07", "/aaa/bbb/", a, "Prefix /aaa/bbb matches /aaa/bbb/, matching the trailing slash"},
		{"p07", "/aaa/bbb/ccc", a, "Prefix /aaa/bbb matches the subpath /aaa/bbb/ccc"},
		{"p07", "/aaa/bbbxyz", none, "Prefix /aaa/bbb does not match the string prefix /aaa/bbbxyz"},
		{"p09", "/aaa/ccc", b, "Prefix / and /aaa: /aaa/ccc matches the /aaa prefix"},
		{"p10", "/aaa/bbb", c, "Prefix /, /aaa, /aaa/bbb: /aaa/bbb matches the /aaa/bbb prefix"},
		{"p10", "/ccc", a, "Prefix /, /aaa, /aaa/bbb: /ccc matches the / prefix"},
		{"p11", "/ccc", none, "Prefix /aaa: /ccc uses the default backend"},
		{"p12", "/foo", b, "Mixed /foo Prefix and /foo Exact: /foo prefers Exact"},
		{"p12", "/foo/x", a, "Mixed /foo Prefix and /foo Exact: /foo/x takes the prefix"},
		{"p13", "/foo", c, "Exact beats ImplementationSpecific at equal length"},
		{"p13", "/foo/bar/x", b, "the longer prefix wins"},
		{"p13", "/foo/x", a, "ImplementationSpecific is a prefix"},
		{"p14", "/foo", b, "Exact /foo beats Prefix /foo/ for /foo"},
		{"p14", "/foo/x", a, "Prefix /foo/ matches /foo/x"},
	}
	for _, tt := range tests {
		if got := matchRoute(snap, tt.host+".docs.test", tt.path); got != tt.want {
			t.Errorf("%s: %s%s went to %s, want %s", tt.row, tt.host, tt.path, got, tt.want)
		}
	}
}

// TestProxyMatcherAgrees: the proxy's own matcher gives the same answers as the
// emitted order does.
func TestProxyMatcherAgrees(t *testing.T) {
	for _, in := range goldenCases(t) {
		snap := Build(caseInputs(t, in)).Snapshot
		m, err := routetable.Compile(snap)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		for _, vh := range snap.VirtualHosts {
			host := strings.Replace(vh.Host, "*", "any", 1)
			for _, r := range vh.Routes {
				for _, p := range []string{r.Path, strings.TrimRight(r.Path, "/"), r.Path + "x", r.Path + "/x", "/"} {
					if p == "" {
						continue
					}
					want := matchRoute(snap, vh.Host, p)
					got := ""
					if _, i, ok := m.Match(host, p); ok {
						got = snap.Backends[i].Name
					}
					if got != want {
						t.Errorf("%s: %s%s: proxy matcher says %q, emitted order says %q", in, host, p, got, want)
					}
				}
			}
		}
	}
}
