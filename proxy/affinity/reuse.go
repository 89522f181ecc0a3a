package affinity

import (
	"slices"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// CompileAll reuses the picker of every backend that is the same as in the previous
// CompileAll on the same Registry: one EndpointSlice change in a cluster of 10k
// backends then compiles one picker, not 10k, and looks up no endpoint state but
// that backend's. A picker is a pure function of its backend, the key ring and the
// options, and is immutable, so serving the old one is serving what a compile would
// give; the endpoint states it points to are the registry's, kept alive by it.
//
// "The same" is by value: name, load balancing, affinity policy and endpoints. A
// snapshot whose builder reused the previous Endpoints slice (translate's Cache does)
// is recognised without comparing the endpoints at all.

// compiledBackend is one picker of the previous CompileAll and what it came from.
type compiledBackend struct {
	endpoints []routetable.Endpoint // the snapshot's slice: immutable, so safe to keep
	policy    policyKey
	picker    Picker
	cookie    *cookiePicker // picker, when it is a cookie picker: its token set is per snapshot
	// During a CompileAll: kept marks a previous entry that is reused, fresh a new one.
	kept, fresh bool
}

// compileConfig is what every picker of a CompileAll depends on besides its backend.
type compileConfig struct {
	keys           *KeyRing
	slidingCookies bool
	tableSize      int
}

// policyKey is a comparable form of a backend's policy (the pointers dereferenced).
type policyKey struct {
	lb                           routetable.LoadBalance
	fallback                     routetable.Fallback
	factor                       float64
	cookie                       routetable.CookieAffinity
	sourceIP                     routetable.SourceIPAffinity
	header                       routetable.HeaderAffinity
	hasCookie, hasSIP, hasHeader bool
}

func keyOfBackend(b *routetable.Backend) policyKey {
	a := &b.Affinity
	k := policyKey{lb: b.LoadBalance, fallback: a.Fallback, factor: a.BalanceFactor}
	if a.Cookie != nil {
		k.cookie, k.hasCookie = *a.Cookie, true
	}
	if a.SourceIP != nil {
		k.sourceIP, k.hasSIP = *a.SourceIP, true
	}
	if a.Header != nil {
		k.header, k.hasHeader = *a.Header, true
	}
	return k
}

// sameAs reports whether b would compile to c's picker. (A NaN balance factor never
// compares equal, so such a backend is recompiled, and refused, every time.)
func (c *compiledBackend) sameAs(b *routetable.Backend, k policyKey) bool {
	if c.policy != k || len(c.endpoints) != len(b.Endpoints) {
		return false
	}
	if len(c.endpoints) == 0 || &c.endpoints[0] == &b.Endpoints[0] {
		return true
	}
	return slices.Equal(c.endpoints, b.Endpoints)
}

// previousPicker returns the previous CompileAll's picker for b, if b is unchanged.
func (r *Registry) previousPicker(b *routetable.Backend, k policyKey) *compiledBackend {
	if c := r.compiled[b.Name]; c != nil && c.sameAs(b, k) {
		return c
	}
	return nil
}

// tokenIndex is every cookie token of one snapshot (Options.known).
type tokenIndex struct{ tokens map[string]struct{} }

func (t *tokenIndex) has(token string) bool {
	if t == nil {
		return false
	}
	_, ok := t.tokens[token]
	return ok
}

// newTokenIndex collects the tokens of the cookie pickers pickers[i], i in cookies.
func newTokenIndex(s *routetable.Snapshot, cookies []int, pickers []Picker, keys *KeyRing) *tokenIndex {
	n := 0
	for _, i := range cookies {
		n += len(s.Backends[i].Endpoints)
	}
	t := &tokenIndex{tokens: make(map[string]struct{}, n*keys.Len())}
	for _, i := range cookies {
		for _, e := range pickers[i].Endpoints() {
			for _, tok := range e.State.tokensFor(keys) {
				t.tokens[tok] = struct{}{}
			}
		}
	}
	return t
}
