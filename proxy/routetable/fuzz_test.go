package routetable

import (
	"strings"
	"testing"
)

// refPrefixMatch is the Kubernetes documentation's definition, taken literally: split
// both paths by "/", ignore the route path's trailing empty elements, and require the
// route's elements to be a prefix of the request's.
func refPrefixMatch(routePath, reqPath string) bool {
	re := strings.Split(routePath, "/")
	for len(re) > 0 && re[len(re)-1] == "" {
		re = re[:len(re)-1]
	}
	qe := strings.Split(reqPath, "/")
	if len(re) > len(qe) {
		return false
	}
	for i := range re {
		if re[i] != qe[i] {
			return false
		}
	}
	return true
}

// refMatch scans every route: the longest match wins (a prefix counts its elements'
// length), Exact beats Prefix at equal length, then the earlier route. It returns the
// index of the route in vh.Routes, or -1.
func refMatch(vh *VirtualHost, path string) int {
	best, bestLen, bestExact := -1, -1, false
	for i, r := range vh.Routes {
		var n int
		isExact := r.PathType == PathExact
		switch {
		case isExact && r.Path == path:
			n = len(r.Path)
		case !isExact && refPrefixMatch(r.Path, path):
			n = len(strings.TrimRight(r.Path, "/"))
		default:
			continue
		}
		if n > bestLen || n == bestLen && isExact && !bestExact {
			best, bestLen, bestExact = i, n, isExact
		}
	}
	return best
}

// FuzzMatch checks the matcher (scan and indexed forms) against refMatch. routes is a
// list of lines "E /path" (Exact), "P /path" (Prefix) or "I /path".
func FuzzMatch(f *testing.F) {
	seeds := []struct{ routes, path string }{
		{"P /", "/anything"},
		{"E /foo\nP /foo", "/foo"},
		{"P /foo/\nP /foo", "/foo"},
		{"P /aaa/bbb\nP /aaa\nP /", "/aaa/bbbxyz"},
		{"E /foo/\nP /foo/", "/foo/"},
		{"P /a//b\nP /a", "/a//b/c"},
		{"I /app\nE /app/x", "/app/x/"},
		{"P //\nP /", "//"},
		{"P /a/b/c/d\nP /a/b\nE /a/b/c", "/a/b/c"},
		{"P /x", ""},
		{"P /", "*"},
	}
	for _, s := range seeds {
		f.Add(s.routes, s.path, "Shop.Example.com:80")
	}
	for _, h := range []string{"shop.example.com.", "SHOP.EXAMPLE.COM.:8443", "x.shop.example.com", "shop.example.com:1:2", "[shop.example.com]:80", "\u212ahop.example.com"} {
		f.Add("P /", "/", h)
	}
	f.Fuzz(func(t *testing.T, routes, path, host string) {
		vh := VirtualHost{Host: "shop.example.com"}
		backends := []Backend{}
		for i, line := range strings.Split(routes, "\n") {
			if len(line) < 2 || i >= 64 {
				continue
			}
			typ := map[byte]PathType{'E': PathExact, 'P': PathPrefix, 'I': PathImplementationSpecific}[line[0]]
			if typ == "" {
				continue
			}
			p := line[2:]
			if checkPath(p) != nil {
				continue
			}
			name := "b" + string(rune('A'+len(backends)%26)) + strings.Repeat("x", len(backends)/26)
			backends = append(backends, Backend{Name: name})
			vh.Routes = append(vh.Routes, Route{Path: p, PathType: typ, Backend: name})
		}
		s := &Snapshot{VirtualHosts: []VirtualHost{vh}, Backends: backends}
		want := refMatch(&s.VirtualHosts[0], path)
		// The request's host reaches this virtual host only if it is the same name,
		// give or take ASCII case, one ":port" and a trailing dot. (Hosts are ASCII:
		// no Unicode folding, which would let "\u212a" pass for "k".)
		h := host
		if strings.Count(h, ":") == 1 {
			h = h[:strings.IndexByte(h, ':')]
		}
		h = strings.TrimSuffix(h, ".")
		if !asciiEqualFold(h, "shop.example.com") {
			want = -1
		}
		for _, th := range []int{0, 1 << 30} {
			m, err := compile(s, th)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			r, _, ok := m.Match(host, path)
			switch {
			case want < 0 && ok:
				t.Fatalf("threshold %d: %q %q matched %+v, want no match", th, host, path, *r)
			case want >= 0 && (!ok || r != &s.VirtualHosts[0].Routes[want]):
				t.Fatalf("threshold %d: %q matched %v, want route %d %+v", th, path, r, want, s.VirtualHosts[0].Routes[want])
			}
		}
	})
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
