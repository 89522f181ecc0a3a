package affinity

import (
	"strings"
	"testing"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// FuzzDecodeToken: no cookie value panics the picker, and none maps to an endpoint
// unless it is a token issued for that endpoint under one of the ring's keys.
func FuzzDecodeToken(f *testing.F) {
	oldKeys := mustKeyRing([]byte("fuzz-old-key-0123456789abcdef"))
	keys := mustKeyRing([]byte("fuzz-new-key-0123456789abcdef"), []byte("fuzz-old-key-0123456789abcdef"))
	p := mustCompile(f, cookieBackend(eps(5), routetable.CookieAffinity{}), keys, nil, Options{}).(*cookiePicker)
	issued := map[string]string{} // token -> endpoint ID
	for _, e := range p.Endpoints() {
		for _, tok := range keys.tokens(e.ID) {
			issued[tok] = e.ID
		}
	}
	for _, e := range p.Endpoints()[:2] {
		f.Add(e.Token)
		f.Add(oldKeys.Token(e.ID))
		f.Add(e.Token[:len(e.Token)-1])
		f.Add(e.Token + "=")
		f.Add(`"` + e.Token + `"`)
		f.Add("x; STICKY=" + e.Token)
	}
	f.Add("")
	f.Add("1.")
	kid := p.Endpoints()[0].Token[:4]
	f.Add(kid + "AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("1.AAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("2.AAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add(strings.Repeat("\xff", tokenLen))
	f.Add(strings.Repeat("A", 4096))
	f.Fuzz(func(t *testing.T, v string) {
		if e := p.lookup(v); e != nil && issued[v] != e.ID {
			t.Fatalf("%q maps to %s but was not issued for it", v, e.ID)
		}
		if wellFormed(v) && (len(v) != tokenLen || !strings.HasPrefix(v, "1.")) {
			t.Fatalf("%q is not a token's shape", v)
		}
		d := p.Pick(withCookie("STICKY", v))
		switch d.Outcome {
		case OutcomeHit:
			// The header may hold several cookies (v can contain "; STICKY=..."):
			// the hit must be on a token the value carries.
			found := false
			for tok, id := range issued {
				found = found || id == d.Endpoint.ID && strings.Contains(v, tok)
			}
			if !found {
				t.Fatalf("%q hit %s without carrying one of its tokens", v, d.Endpoint.ID)
			}
		case OutcomeNew, OutcomeRebalanced:
			if d.Endpoint == nil || d.Cookie == nil || issued[d.Cookie.Value] != d.Endpoint.ID {
				t.Fatalf("%q: %v with endpoint %v cookie %v", v, d.Outcome, d.Endpoint, d.Cookie)
			}
		default:
			t.Fatalf("%q: outcome %v", v, d.Outcome)
		}
	})
}
