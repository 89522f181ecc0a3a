//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"testing"
)

// stickTo asserts that n requests of u all land on one backend and returns it.
func stickTo(t *testing.T, u *user, c *controller, host string, n int, headers ...string) string {
	t.Helper()
	first := ""
	for i := 0; i < n; i++ {
		r := u.get(t, c, host, "/", headers...)
		if r.status != http.StatusOK {
			t.Fatalf("request %d: status %d", i+1, r.status)
		}
		if first == "" {
			first = r.server
		} else if r.server != first {
			t.Fatalf("request %d landed on %s, earlier ones on %s", i+1, r.server, first)
		}
	}
	return first
}

func TestCookieAffinity(t *testing.T) {
	host := deploy(t, shared, "cookie", 3, map[string]string{
		"sticky-ingress.io/affinity":       "cookie",
		"sticky-ingress.io/cookie-name":    "ROUTE",
		"sticky-ingress.io/cookie-max-age": "1h",
	}).host

	alice := newUser("198.18.10.1")
	r := alice.get(t, shared, host, "/")
	var cookie *http.Cookie
	for _, c := range r.cookies {
		if c.Name == "ROUTE" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatalf("no ROUTE cookie issued; got %v", r.header["Set-Cookie"])
	}
	if !cookie.HttpOnly || cookie.MaxAge != 3600 || cookie.SameSite != http.SameSiteLaxMode {
		t.Errorf("cookie attributes: %s", r.header.Get("Set-Cookie"))
	}
	server := stickTo(t, alice, shared, host, 10)
	if server != r.server {
		t.Fatalf("first response from %s, then stuck to %s", r.server, server)
	}

	// New clients are spread by round-robin, so the next ones land elsewhere.
	seen := map[string]bool{server: true}
	for i := 0; i < 6; i++ {
		seen[stickTo(t, newUser(fmt.Sprintf("198.18.10.%d", 10+i)), shared, host, 3)] = true
	}
	if len(seen) != 3 {
		t.Fatalf("new sessions reached %d of 3 backends", len(seen))
	}
	t.Logf("alice stuck to %s; new sessions reached %d backends", server, len(seen))
}

func TestSourceIPAffinity(t *testing.T) {
	host := deploy(t, shared, "srcip", 3, map[string]string{"sticky-ingress.io/affinity": "source-ip"}).host

	seen := map[string]bool{}
	for i := 0; i < 12; i++ {
		// A fresh cookie jar each request: only the address can keep it sticky.
		ip := fmt.Sprintf("198.18.20.%d", 1+i*17)
		first := ""
		for j := 0; j < 4; j++ {
			r := newUser(ip).get(t, shared, host, "/")
			if first == "" {
				first = r.server
			} else if r.server != first {
				t.Fatalf("client %s moved from %s to %s", ip, first, r.server)
			}
		}
		seen[first] = true
	}
	if len(seen) < 2 {
		t.Fatalf("12 client addresses all hashed to %v", seen)
	}
}

func TestHeaderAffinity(t *testing.T) {
	host := deploy(t, shared, "hdr", 3, map[string]string{
		"sticky-ingress.io/affinity":    "header",
		"sticky-ingress.io/hash-header": "X-User-Id",
	}).host

	seen := map[string]bool{}
	for i := 0; i < 12; i++ {
		id := fmt.Sprintf("user-%d", i)
		first := ""
		for j := 0; j < 4; j++ {
			// Different source addresses: only the header keeps it sticky.
			r := newUser(fmt.Sprintf("198.18.30.%d", 1+j)).get(t, shared, host, "/", "X-User-Id", id)
			if first == "" {
				first = r.server
			} else if r.server != first {
				t.Fatalf("%s moved from %s to %s", id, first, r.server)
			}
		}
		seen[first] = true
	}
	if len(seen) < 2 {
		t.Fatalf("12 user ids all hashed to %v", seen)
	}
}

// TestNginxAnnotationsKeepStickiness: an Ingress written for ingress-nginx keeps its
// cookie stickiness unchanged.
func TestNginxAnnotationsKeepStickiness(t *testing.T) {
	host := deploy(t, shared, "nginx", 2, map[string]string{
		"nginx.ingress.kubernetes.io/affinity":            "cookie",
		"nginx.ingress.kubernetes.io/session-cookie-name": "INGRESSCOOKIE",
	}).host
	u := newUser("198.18.40.1")
	r := u.get(t, shared, host, "/")
	found := false
	for _, c := range r.cookies {
		found = found || c.Name == "INGRESSCOOKIE"
	}
	if !found {
		t.Fatalf("no INGRESSCOOKIE cookie: %v", r.header["Set-Cookie"])
	}
	stickTo(t, u, shared, host, 8)
}
