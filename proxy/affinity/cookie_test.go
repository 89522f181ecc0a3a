package affinity

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// pinTo returns a cookie value that pins to the endpoint with the given ID.
func pinTo(t *testing.T, p Picker, endpointID string) string {
	t.Helper()
	for _, e := range p.Endpoints() {
		if e.ID == endpointID {
			return e.Token
		}
	}
	t.Fatalf("no endpoint %s", endpointID)
	return ""
}

func TestCookieNewSessionSetsEveryAttribute(t *testing.T) {
	clk := newClock()
	cases := []struct {
		name   string
		policy routetable.CookieAffinity
		tls    bool
		route  string
		want   http.Cookie // Value and Expires are checked separately
	}{
		{"defaults: session cookie on the route path", routetable.CookieAffinity{Name: "STICKY"}, false, "/shop",
			http.Cookie{Name: "STICKY", Path: "/shop"}},
		{"route path loses its trailing slash", routetable.CookieAffinity{Name: "S"}, false, "/shop/",
			http.Cookie{Name: "S", Path: "/shop"}},
		{"root route path", routetable.CookieAffinity{Name: "S"}, false, "/",
			http.Cookie{Name: "S", Path: "/"}},
		{"policy path, domain, httponly, lax", routetable.CookieAffinity{Name: "CART", Path: "/cart", Domain: "example.com", HTTPOnly: true, SameSite: routetable.SameSiteLax}, false, "/x",
			http.Cookie{Name: "CART", Path: "/cart", Domain: "example.com", HttpOnly: true, SameSite: http.SameSiteLaxMode}},
		{"max age and expires", routetable.CookieAffinity{Name: "S", MaxAge: 2 * time.Hour}, false, "/",
			http.Cookie{Name: "S", Path: "/", MaxAge: 7200, Expires: clk.t.Add(2 * time.Hour)}},
		{"max age rounds up to a second", routetable.CookieAffinity{Name: "S", MaxAge: 1500 * time.Millisecond}, false, "/",
			http.Cookie{Name: "S", Path: "/", MaxAge: 2, Expires: clk.t.Add(1500 * time.Millisecond)}},
		{"secure auto without TLS", routetable.CookieAffinity{Name: "S", Secure: routetable.SecureAuto}, false, "/",
			http.Cookie{Name: "S", Path: "/"}},
		{"secure auto under TLS", routetable.CookieAffinity{Name: "S", Secure: routetable.SecureAuto}, true, "/",
			http.Cookie{Name: "S", Path: "/", Secure: true}},
		{"secure empty means auto", routetable.CookieAffinity{Name: "S"}, true, "/",
			http.Cookie{Name: "S", Path: "/", Secure: true}},
		{"secure always", routetable.CookieAffinity{Name: "S", Secure: routetable.SecureAlways}, false, "/",
			http.Cookie{Name: "S", Path: "/", Secure: true}},
		{"secure never under TLS", routetable.CookieAffinity{Name: "S", Secure: routetable.SecureNever}, true, "/",
			http.Cookie{Name: "S", Path: "/"}},
		{"samesite strict", routetable.CookieAffinity{Name: "S", SameSite: routetable.SameSiteStrict}, false, "/",
			http.Cookie{Name: "S", Path: "/", SameSite: http.SameSiteStrictMode}},
		{"samesite none forces secure", routetable.CookieAffinity{Name: "S", SameSite: routetable.SameSiteNone}, false, "/",
			http.Cookie{Name: "S", Path: "/", SameSite: http.SameSiteNoneMode, Secure: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompile(t, cookieBackend(eps(3), tc.policy), testKeys, nil, Options{Now: clk.now})
			r := request()
			r.TLS, r.RoutePath = tc.tls, tc.route
			d := p.Pick(r)
			if d.Outcome != OutcomeNew || d.Endpoint == nil || d.Cookie == nil {
				t.Fatalf("got %v %v cookie %v", d.Outcome, d.Endpoint, d.Cookie)
			}
			got := *d.Cookie
			if got.Value != d.Endpoint.Token || !strings.HasPrefix(got.Value, "1.") {
				t.Errorf("value %q, want the endpoint's token %q", got.Value, d.Endpoint.Token)
			}
			got.Value = ""
			if !got.Expires.Equal(tc.want.Expires) {
				t.Errorf("expires %v, want %v", got.Expires, tc.want.Expires)
			}
			got.Expires, tc.want.Expires = time.Time{}, time.Time{}
			if got.String() != tc.want.String() || got.Secure != tc.want.Secure {
				t.Errorf("cookie\n got %s\nwant %s", got.String(), tc.want.String())
			}
		})
	}
}

func TestCookieExpiresIsPerResponse(t *testing.T) {
	clk := newClock()
	p := mustCompile(t, cookieBackend(eps(2), routetable.CookieAffinity{MaxAge: time.Hour}), testKeys, nil, Options{Now: clk.now})
	first := p.Pick(request()).Cookie.Expires
	clk.advance(17 * time.Minute)
	second := p.Pick(request()).Cookie.Expires
	if got := second.Sub(first); got != 17*time.Minute {
		t.Fatalf("Expires moved by %v between responses 17m apart", got)
	}
	if !second.Equal(clk.t.Add(time.Hour)) {
		t.Fatalf("Expires %v, want now+1h %v", second, clk.t.Add(time.Hour))
	}
}

// TestCookieIssuedOncePerSecond: an endpoint's Set-Cookie is made once and reused
// while requests of the same route path and scheme ask within the same second; a
// different path, scheme or second gets its own, and the value sent is always the
// cookie's serialisation.
func TestCookieIssuedOncePerSecond(t *testing.T) {
	clk := newClock()
	p := mustCompile(t, cookieBackend(eps(1), routetable.CookieAffinity{Name: "S", MaxAge: time.Hour}), testKeys, nil, Options{Now: clk.now})
	pick := func(tls bool, route string) Decision {
		r := request()
		r.TLS, r.RoutePath = tls, route
		d := p.Pick(r)
		if d.Cookie == nil || d.SetCookie() != d.Cookie.String() {
			t.Fatalf("Set-Cookie %q for cookie %v", d.SetCookie(), d.Cookie)
		}
		// Shared between decisions: an append must copy it.
		if v := d.SetCookieValues(); len(v) != 1 || cap(v) != 1 || v[0] != d.SetCookie() {
			t.Fatalf("SetCookieValues %q (capacity %d), want [%q] with capacity 1", v, cap(v), d.SetCookie())
		}
		return d
	}
	first := pick(false, "/")
	if again := pick(false, "/"); again.Cookie != first.Cookie {
		t.Fatal("the same request in the same second made a new cookie")
	}
	if d := pick(true, "/"); !d.Cookie.Secure || d.Cookie == first.Cookie {
		t.Fatalf("over TLS: %s, want its own Secure cookie", d.SetCookie())
	}
	if d := pick(false, "/shop"); d.Cookie.Path != "/shop" {
		t.Fatalf("route /shop: %s", d.SetCookie())
	}
	clk.advance(time.Second)
	if d := pick(false, "/"); !d.Cookie.Expires.Equal(clk.t.Add(time.Hour)) {
		t.Fatalf("a second later: Expires %v, want %v", d.Cookie.Expires, clk.t.Add(time.Hour))
	}
}

func TestCookieHit(t *testing.T) {
	p := mustCompile(t, cookieBackend(eps(5), routetable.CookieAffinity{MaxAge: time.Hour}), testKeys, nil, Options{})
	for _, e := range p.Endpoints() {
		d := p.Pick(withCookie("STICKY", e.Token))
		if d.Outcome != OutcomeHit || d.Endpoint != e {
			t.Fatalf("cookie of %s: %v %s", e.ID, d.Outcome, id(d))
		}
		if d.Cookie != nil {
			t.Fatalf("a hit sent Set-Cookie %s; hits keep the cookie they have", d.Cookie)
		}
	}
	// Quoted values are what some clients send back.
	e := p.Endpoints()[2]
	if d := p.Pick(withCookie("STICKY", `"`+e.Token+`"`)); d.Outcome != OutcomeHit || d.Endpoint != e {
		t.Fatalf("quoted cookie: %v %s", d.Outcome, id(d))
	}
}

func TestCookieSlidingRefreshesOnHit(t *testing.T) {
	clk := newClock()
	p := mustCompile(t, cookieBackend(eps(2), routetable.CookieAffinity{MaxAge: time.Hour}), testKeys, nil, Options{Now: clk.now, SlidingCookies: true})
	e := p.Endpoints()[0]
	d := p.Pick(withCookie("STICKY", e.Token))
	if d.Outcome != OutcomeHit || d.Cookie == nil || d.Cookie.Value != e.Token || !d.Cookie.Expires.Equal(clk.t.Add(time.Hour)) {
		t.Fatalf("sliding hit: %v cookie %v", d.Outcome, d.Cookie)
	}
	session := mustCompile(t, cookieBackend(eps(2), routetable.CookieAffinity{}), testKeys, nil, Options{SlidingCookies: true})
	if d := session.Pick(withCookie("STICKY", session.Endpoints()[0].Token)); d.Cookie != nil {
		t.Fatalf("a session cookie (no max age) was refreshed: %s", d.Cookie)
	}
}

func TestCookieFirstCookieOfThisBackendWins(t *testing.T) {
	p := mustCompile(t, cookieBackend(eps(3), routetable.CookieAffinity{}), testKeys, nil, Options{})
	other := mustCompile(t, &routetable.Backend{Name: "other", Endpoints: []routetable.Endpoint{{ID: "elsewhere", Address: "10.9.9.9:80", Ready: true}},
		Affinity: routetable.AffinityPolicy{Cookie: &routetable.CookieAffinity{Name: "STICKY"}}}, testKeys, nil, Options{})
	a, b := pinTo(t, p, "pod-001"), pinTo(t, p, "pod-002")
	cases := []struct {
		name   string
		header []string
		want   string
	}{
		{"two valid: the first", []string{"Cookie", "STICKY=" + a + "; STICKY=" + b}, "pod-001"},
		{"two valid, other order", []string{"Cookie", "STICKY=" + b + "; STICKY=" + a}, "pod-002"},
		{"garbage first", []string{"Cookie", "STICKY=garbage; STICKY=" + b}, "pod-002"},
		{"another backend's first", []string{"Cookie", "STICKY=" + other.Endpoints()[0].Token + "; STICKY=" + a}, "pod-001"},
		{"across header lines", []string{"Cookie", "x=1; STICKY=nope", "Cookie", "STICKY=" + b}, "pod-002"},
		{"other cookie names ignored", []string{"Cookie", "STICKY2=" + a + "; sticky=" + a + "; STICKY=" + b}, "pod-002"},
		{"spaces and empty parts", []string{"Cookie", " ;  ; STICKY=" + a + " ; "}, "pod-001"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if d := p.Pick(request(tc.header...)); d.Outcome != OutcomeHit || id(d) != tc.want {
				t.Fatalf("%v %s, want hit on %s", d.Outcome, id(d), tc.want)
			}
		})
	}
}

func TestCookieInvalidValuesAreNoSession(t *testing.T) {
	p := mustCompile(t, cookieBackend(eps(3), routetable.CookieAffinity{}), testKeys, nil, Options{})
	valid := pinTo(t, p, "pod-000")
	strict := cookieBackend(eps(3), routetable.CookieAffinity{})
	strict.Affinity.Fallback = routetable.Strict
	ps := mustCompile(t, strict, testKeys, nil, Options{})
	cases := []struct {
		name, value string
		want        Outcome // under Rebalance; under Strict a "gone" session is a StrictMiss
	}{
		{"empty", "", OutcomeNew},
		{"garbage", "hello", OutcomeNew},
		{"truncated", valid[:len(valid)-1], OutcomeNew},
		{"oversized", valid + "A", OutcomeNew},
		{"huge", strings.Repeat("A", 8192), OutcomeNew},
		{"wrong version", "2" + valid[1:], OutcomeNew},
		{"bad alphabet", valid[:10] + "+" + valid[11:], OutcomeNew},
		{"endpoint address", "10.0.0.1:8080", OutcomeNew},
		{"endpoint id", "pod-000", OutcomeNew},
		{"forged, well-formed, our key id", valid[:4] + "AAAAAAAAAAAAAAAAAAAAAA", OutcomeRebalanced},
		{"signed by an unknown key", mustKeyRing([]byte("some-other-key")).Token("pod-000"), OutcomeNew},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Pick(withCookie("STICKY", tc.value))
			if d.Outcome != tc.want || d.Endpoint == nil || d.Cookie == nil || d.Cookie.Value != d.Endpoint.Token {
				t.Fatalf("%v %s cookie %v, want %v with a new cookie", d.Outcome, id(d), d.Cookie, tc.want)
			}
			d = ps.Pick(withCookie("STICKY", tc.value))
			if tc.want == OutcomeRebalanced {
				if d.Outcome != OutcomeStrictMiss || d.Cookie != nil {
					t.Fatalf("strict: %v cookie %v, want a strict miss keeping the cookie", d.Outcome, d.Cookie)
				}
			} else if d.Outcome != OutcomeNew {
				t.Fatalf("strict: %v, want new", d.Outcome)
			}
		})
	}
}

// TestCookieOfAnotherBackendIsNoSession: with CompileAll the picker knows every token
// of the snapshot, so a same-named cookie of another backend (another path's cookie,
// say) is not mistaken for a session whose endpoint is gone, even under Strict.
func TestCookieOfAnotherBackendIsNoSession(t *testing.T) {
	s := &routetable.Snapshot{Backends: []routetable.Backend{
		*cookieBackend(eps(2), routetable.CookieAffinity{}),
		{Name: "ns/api:80", Endpoints: []routetable.Endpoint{{ID: "api-0", Address: "10.1.0.1:80", Ready: true, Serving: true}},
			Affinity: routetable.AffinityPolicy{Cookie: &routetable.CookieAffinity{Name: "STICKY"}, Fallback: routetable.Strict}},
	}}
	ps, err := CompileAll(s, testKeys, NewRegistry(RegistryOptions{}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := ps[1].Pick(withCookie("STICKY", ps[0].Endpoints()[0].Token))
	if d.Outcome != OutcomeNew || id(d) != "api-0" || d.Cookie == nil {
		t.Fatalf("%v %s cookie %v, want a new session on api-0", d.Outcome, id(d), d.Cookie)
	}
}

func TestCookieKeyRotation(t *testing.T) {
	oldKey, newKey := []byte("rotation-old-key-0123456789abcdef"), []byte("rotation-new-key-0123456789abcdef")
	before := mustCompile(t, cookieBackend(eps(4), routetable.CookieAffinity{}), mustKeyRing(oldKey), nil, Options{})
	oldToken := pinTo(t, before, "pod-002")

	// Step 1: the new key verifies but does not sign yet; old cookies hit, no re-issue.
	verifying := mustCompile(t, cookieBackend(eps(4), routetable.CookieAffinity{}), mustKeyRing(oldKey, newKey), nil, Options{})
	if d := verifying.Pick(withCookie("STICKY", oldToken)); d.Outcome != OutcomeHit || id(d) != "pod-002" || d.Cookie != nil {
		t.Fatalf("old key signing: %v %s cookie %v", d.Outcome, id(d), d.Cookie)
	}
	// Step 2: the new key signs; the old cookie still hits and is re-signed.
	signing := mustCompile(t, cookieBackend(eps(4), routetable.CookieAffinity{}), mustKeyRing(newKey, oldKey), nil, Options{})
	d := signing.Pick(withCookie("STICKY", oldToken))
	if d.Outcome != OutcomeHit || id(d) != "pod-002" {
		t.Fatalf("after rotation: %v %s, want a hit on pod-002", d.Outcome, id(d))
	}
	if d.Cookie == nil || d.Cookie.Value != d.Endpoint.Token || d.Cookie.Value == oldToken {
		t.Fatalf("after rotation the old cookie was not re-signed: %v", d.Cookie)
	}
	if d := signing.Pick(withCookie("STICKY", d.Cookie.Value)); d.Outcome != OutcomeHit || d.Cookie != nil {
		t.Fatalf("re-signed cookie: %v cookie %v", d.Outcome, d.Cookie)
	}
	// Step 3: the old key is retired; its cookies are no session, even under Strict.
	retiredBackend := cookieBackend(eps(4), routetable.CookieAffinity{})
	retiredBackend.Affinity.Fallback = routetable.Strict
	retired := mustCompile(t, retiredBackend, mustKeyRing(newKey), nil, Options{})
	if d := retired.Pick(withCookie("STICKY", oldToken)); d.Outcome != OutcomeNew || d.Cookie == nil {
		t.Fatalf("retired key: %v", d.Outcome)
	}
}

func TestCookieTokensAreStable(t *testing.T) {
	// Derived from the ID only: the same pod on a new address keeps its sessions, and
	// a restarted proxy with the same key issues the same value.
	a := mustKeyRing([]byte("k1-0123456789abcdef")).Token("pod-uid-1")
	b := mustKeyRing([]byte("k1-0123456789abcdef"), []byte("k2")).Token("pod-uid-1")
	if a != b || len(a) != tokenLen || !wellFormed(a) {
		t.Fatalf("tokens %q %q", a, b)
	}
	if c := mustKeyRing([]byte("k2")).Token("pod-uid-1"); c == a {
		t.Fatal("two keys give the same token")
	}
	if strings.Contains(a, "pod") || strings.Contains(a, "10.") {
		t.Fatalf("token %q reveals the endpoint", a)
	}
}

func TestNewKeyRingRejects(t *testing.T) {
	if _, err := NewKeyRing(nil); err == nil {
		t.Error("no keys accepted")
	}
	if _, err := NewKeyRing([][]byte{[]byte("k"), {}}); err == nil {
		t.Error("empty key accepted")
	}
	key := []byte("mutable-key")
	k := mustKeyRing(key)
	tok := k.Token("x")
	key[0] = 'X'
	if k.Token("x") != tok {
		t.Error("the ring did not copy its keys")
	}
}

func TestCookieDrain(t *testing.T) {
	e := eps(3)
	e[1].Ready, e[1].Terminating = false, true // serving, terminating
	p := mustCompile(t, cookieBackend(e, routetable.CookieAffinity{}), testKeys, nil, Options{})
	if d := p.Pick(withCookie("STICKY", pinTo(t, p, "pod-001"))); d.Outcome != OutcomeDrained || id(d) != "pod-001" || d.Cookie != nil {
		t.Fatalf("session on a draining endpoint: %v %s cookie %v", d.Outcome, id(d), d.Cookie)
	}
	for range 100 {
		if d := p.Pick(request()); id(d) == "pod-001" {
			t.Fatal("a new session went to a draining endpoint")
		}
	}
	// Terminating and no longer serving: the session falls back.
	e[1].Serving = false
	p = mustCompile(t, cookieBackend(e, routetable.CookieAffinity{}), testKeys, nil, Options{})
	if d := p.Pick(withCookie("STICKY", pinTo(t, p, "pod-001"))); d.Outcome != OutcomeRebalanced || id(d) == "pod-001" || d.Cookie == nil {
		t.Fatalf("terminated endpoint: %v %s", d.Outcome, id(d))
	}
}

func TestCookieFallback(t *testing.T) {
	cases := []struct {
		name     string
		fallback routetable.Fallback
		mutate   func(e []routetable.Endpoint) []routetable.Endpoint
		want     Outcome
	}{
		{"gone, rebalance", routetable.Rebalance, func(e []routetable.Endpoint) []routetable.Endpoint { return e[1:] }, OutcomeRebalanced},
		{"gone, strict", routetable.Strict, func(e []routetable.Endpoint) []routetable.Endpoint { return e[1:] }, OutcomeStrictMiss},
		{"not ready, rebalance", "", func(e []routetable.Endpoint) []routetable.Endpoint { e[0].Ready, e[0].Serving = false, false; return e }, OutcomeRebalanced},
		{"not ready, strict", routetable.Strict, func(e []routetable.Endpoint) []routetable.Endpoint { e[0].Ready, e[0].Serving = false, false; return e }, OutcomeStrictMiss},
		{"ready, strict", routetable.Strict, func(e []routetable.Endpoint) []routetable.Endpoint { return e }, OutcomeHit},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := NewRegistry(RegistryOptions{})
			b := cookieBackend(eps(3), routetable.CookieAffinity{})
			b.Affinity.Fallback = tc.fallback
			before := mustCompile(t, b, testKeys, reg, Options{})
			token := pinTo(t, before, "pod-000")
			b.Endpoints = tc.mutate(b.Endpoints)
			after := mustCompile(t, b, testKeys, reg, Options{})
			d := after.Pick(withCookie("STICKY", token))
			if d.Outcome != tc.want {
				t.Fatalf("%v, want %v", d.Outcome, tc.want)
			}
			switch d.Outcome {
			case OutcomeRebalanced:
				if id(d) == "pod-000" || d.Cookie == nil || d.Cookie.Value != d.Endpoint.Token {
					t.Fatalf("rebalanced to %s with cookie %v", id(d), d.Cookie)
				}
			case OutcomeStrictMiss:
				if d.Endpoint != nil || d.Cookie != nil {
					t.Fatalf("strict miss with endpoint %s cookie %v", id(d), d.Cookie)
				}
			}
		})
	}
}

func TestCookieRetry(t *testing.T) {
	for _, fb := range []routetable.Fallback{routetable.Rebalance, routetable.Strict} {
		t.Run(string(fb), func(t *testing.T) {
			b := cookieBackend(eps(3), routetable.CookieAffinity{})
			b.Affinity.Fallback = fb
			p := mustCompile(t, b, testKeys, nil, Options{})
			pinned := p.Pick(withCookie("STICKY", pinTo(t, p, "pod-001")))
			d := p.Retry(withCookie("STICKY", pinTo(t, p, "pod-001")), pinned.Endpoint)
			if fb == routetable.Strict {
				if d.Outcome != OutcomeStrictMiss || d.Cookie != nil {
					t.Fatalf("strict retry of a pinned request: %v", d.Outcome)
				}
			} else if d.Outcome != OutcomeRebalanced || id(d) == "pod-001" || d.Cookie == nil || d.Cookie.Value != d.Endpoint.Token {
				t.Fatalf("retry of a pinned request: %v %s cookie %v", d.Outcome, id(d), d.Cookie)
			}
			// A new session's retry is another new session, under either fallback.
			first := p.Pick(request())
			d = p.Retry(request(), first.Endpoint)
			if d.Outcome != OutcomeNew || d.Endpoint == nil || d.Endpoint.ID == first.Endpoint.ID || d.Cookie == nil {
				t.Fatalf("retry of a new session: %v %s", d.Outcome, id(d))
			}
		})
	}
}

func TestNoEndpoint(t *testing.T) {
	none := eps(2)
	for i := range none {
		none[i].Ready, none[i].Serving = false, false
	}
	backends := map[string]*routetable.Backend{
		"cookie":    cookieBackend(none, routetable.CookieAffinity{}),
		"source-ip": sourceIPBackend(none, 0),
		"header":    headerBackend(none, "X-User", ""),
		"none":      {Name: "b", Endpoints: none},
		"empty":     {Name: "b"},
	}
	for name, b := range backends {
		t.Run(name, func(t *testing.T) {
			p := mustCompile(t, b, testKeys, nil, Options{})
			r := request("X-User", "u1")
			r.ClientIP = ipRequest("192.0.2.1").ClientIP
			if d := p.Pick(r); d.Outcome != OutcomeNoEndpoint || d.Endpoint != nil || d.Cookie != nil {
				t.Fatalf("pick: %v %s", d.Outcome, id(d))
			}
			if d := p.Pick(request()); d.Outcome != OutcomeNoEndpoint || d.Endpoint != nil {
				t.Fatalf("pick without key: %v %s", d.Outcome, id(d))
			}
		})
	}
	// The last endpoint failing leaves nothing to retry on.
	p := mustCompile(t, &routetable.Backend{Name: "b", Endpoints: eps(1)}, nil, nil, Options{})
	if d := p.Retry(request(), p.Endpoints()[0]); d.Outcome != OutcomeNoEndpoint {
		t.Fatalf("retry of the only endpoint: %v %s", d.Outcome, id(d))
	}
}

func TestCompileErrors(t *testing.T) {
	if _, err := Compile(cookieBackend(eps(1), routetable.CookieAffinity{}), nil, nil, Options{}); err == nil {
		t.Error("cookie affinity without keys compiled")
	}
	b := cookieBackend(eps(1), routetable.CookieAffinity{})
	b.Affinity.Header = &routetable.HeaderAffinity{Name: "X"}
	if _, err := Compile(b, testKeys, nil, Options{}); err == nil {
		t.Error("two affinities compiled")
	}
	dup := eps(2)
	dup[1].ID = dup[0].ID
	if _, err := Compile(&routetable.Backend{Name: "b", Endpoints: dup}, nil, nil, Options{}); err == nil {
		t.Error("duplicate endpoint IDs compiled")
	}
	if _, err := Compile(nil, nil, nil, Options{}); err == nil {
		t.Error("nil backend compiled")
	}
}
