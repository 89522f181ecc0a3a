//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stickyv1 "github.com/sticky-ingress/sticky-ingress/api/v1alpha1"
)

// others returns the backends other than the one named.
func others(bs []*backend, name string) []*backend {
	var out []*backend
	for _, b := range bs {
		if b.name != name {
			out = append(out, b)
		}
	}
	return out
}

func byName(bs []*backend, name string) *backend {
	for _, b := range bs {
		if b.name == name {
			return b
		}
	}
	return nil
}

func cookieValue(u *user, host, name string) string {
	for _, c := range u.jar.Cookies(jarURL(host)) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func TestPinnedEndpointRemovedRebalances(t *testing.T) {
	a := deploy(t, shared, "rebal", 3, map[string]string{"sticky-ingress.io/affinity": "cookie"})
	ns, host, bs := a.ns, a.host, a.backends

	u := newUser("198.18.50.1")
	pinned := stickTo(t, u, shared, host, 3)
	before := cookieValue(u, host, "STICKY")
	setEndpoints(t, ns, "web", ready(others(bs, pinned)...)...)
	eventually(t, 10*time.Second, func() error {
		r := u.get(t, shared, host, "/")
		if r.server == pinned {
			return fmt.Errorf("still on removed endpoint %s", pinned)
		}
		return nil
	})
	after := cookieValue(u, host, "STICKY")
	if after == before || after == "" {
		t.Fatalf("rebalanced without a new cookie (before %q, after %q)", before, after)
	}
	again := stickTo(t, u, shared, host, 5)
	t.Logf("pinned %s removed; re-pinned to %s", pinned, again)
}

func TestPinnedEndpointRemovedStrictAnswers503(t *testing.T) {
	a := deploy(t, shared, "strict", 2, map[string]string{
		"sticky-ingress.io/affinity": "cookie",
		"sticky-ingress.io/fallback": "strict",
	})
	ns, host, bs := a.ns, a.host, a.backends

	u := newUser("198.18.51.1")
	pinned := stickTo(t, u, shared, host, 3)
	before := cookieValue(u, host, "STICKY")
	setEndpoints(t, ns, "web", ready(others(bs, pinned)...)...)
	eventually(t, 10*time.Second, func() error {
		if r := u.get(t, shared, host, "/"); r.status != http.StatusServiceUnavailable {
			return fmt.Errorf("status %d from %s, want 503", r.status, r.server)
		}
		return nil
	})
	if after := cookieValue(u, host, "STICKY"); after != before {
		t.Fatalf("strict fallback changed the cookie: %q -> %q", before, after)
	}
	// The endpoint comes back: the same session is served by it again.
	setEndpoints(t, ns, "web", ready(bs...)...)
	eventually(t, 10*time.Second, func() error {
		if r := u.get(t, shared, host, "/"); r.server != pinned {
			return fmt.Errorf("status %d from %q, want %s", r.status, r.server, pinned)
		}
		return nil
	})
}

func TestTerminatingEndpointDrains(t *testing.T) {
	a := deploy(t, shared, "drain", 3, map[string]string{"sticky-ingress.io/affinity": "cookie"})
	ns, host, bs := a.ns, a.host, a.backends

	u := newUser("198.18.52.1")
	pinned := stickTo(t, u, shared, host, 3)
	eps := ready(others(bs, pinned)...)
	eps = append(eps, endpointState{backend: byName(bs, pinned), terminating: true})
	setEndpoints(t, ns, "web", eps...)

	// Wait until the proxy has the terminating state: new sessions avoid the endpoint.
	eventually(t, 10*time.Second, func() error {
		for i := 0; i < 6; i++ {
			if r := newUser(fmt.Sprintf("198.18.52.%d", 10+i)).get(t, shared, host, "/"); r.server == pinned {
				return fmt.Errorf("new session landed on terminating %s", pinned)
			}
		}
		return nil
	})
	// The existing session stays on its draining endpoint.
	if got := stickTo(t, u, shared, host, 5); got != pinned {
		t.Fatalf("draining session moved from %s to %s", pinned, got)
	}
}

func TestStickyPolicyOverridesAnnotations(t *testing.T) {
	a := deploy(t, shared, "policy", 3, map[string]string{
		"sticky-ingress.io/affinity":    "cookie",
		"sticky-ingress.io/cookie-name": "FROM_ANNOTATION",
	})
	ns, host := a.ns, a.host
	create(t, &stickyv1.StickyPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "cart", Namespace: ns},
		Spec: stickyv1.StickyPolicySpec{
			TargetRefs: []stickyv1.TargetRef{{Name: "web"}},
			Type:       stickyv1.AffinityCookie,
			Cookie:     &stickyv1.CookiePolicy{Name: "CART"},
		},
	})
	eventually(t, 10*time.Second, func() error {
		r := newUser("198.18.53.1").get(t, shared, host, "/")
		for _, c := range r.cookies {
			if c.Name == "CART" {
				return nil
			}
		}
		return fmt.Errorf("cookies %v, want CART", r.header["Set-Cookie"])
	})
	u := newUser("198.18.53.2")
	stickTo(t, u, shared, host, 5)
	if cookieValue(u, host, "FROM_ANNOTATION") != "" {
		t.Fatal("the overridden annotation's cookie was still issued")
	}
	// The leader reports the policy as accepted.
	eventually(t, 10*time.Second, func() error {
		var p stickyv1.StickyPolicy
		if err := k8s.Get(context.Background(), nameOf(ns, "cart"), &p); err != nil {
			return err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == stickyv1.ConditionAccepted && c.Status == metav1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", p.Status.Conditions)
	})
}
