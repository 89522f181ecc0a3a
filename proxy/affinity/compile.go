package affinity

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// Options tune compiled pickers. The zero value is what production uses.
type Options struct {
	// Now is the clock for cookie Expires (tests); nil means time.Now.
	Now func() time.Time
	// SlidingCookies re-sends the affinity cookie on every hit when the policy has a
	// MaxAge, so that an active session never expires. Off by default: a Set-Cookie on
	// every response makes responses uncacheable by shared caches and costs an
	// allocation per request; nginx, HAProxy and Traefik do not refresh either.
	SlidingCookies bool
	// TableSize overrides the Maglev table size (tests); it must be a prime. 0 = automatic.
	TableSize int

	// known holds every token of the snapshot (set by CompileAll): a well-formed cookie
	// that belongs to another backend is then "no session" rather than "gone".
	known *tokenIndex
}

// Compile builds the picker of one backend. keys is needed for cookie affinity only.
// reg holds per-endpoint state across snapshots; nil gives the picker a private
// registry (tests). The backend must have passed Snapshot.Validate.
func Compile(b *routetable.Backend, keys *KeyRing, reg *Registry, opts Options) (Picker, error) {
	if b == nil {
		return nil, errors.New("affinity: nil backend")
	}
	if reg == nil {
		reg = NewRegistry(RegistryOptions{})
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	where := fmt.Sprintf("backend %q", b.Name)
	p, err := newPool(b, reg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	a := b.Affinity
	strict := a.Fallback == routetable.Strict
	switch {
	case a.Cookie != nil && (a.SourceIP != nil || a.Header != nil) || a.SourceIP != nil && a.Header != nil:
		return nil, fmt.Errorf("%s: affinity sets more than one of cookie, sourceIP and header", where)
	case a.Cookie != nil:
		if keys == nil {
			return nil, fmt.Errorf("%s: cookie affinity needs a cookie key ring", where)
		}
		return newCookiePicker(p, *a.Cookie, strict, keys, opts), nil
	case a.SourceIP != nil:
		h, err := newHashing(p, &a, reg, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		return newSourceIPPicker(h, *a.SourceIP), nil
	case a.Header != nil:
		h, err := newHashing(p, &a, reg, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		return newHeaderPicker(h, *a.Header), nil
	}
	return &plainPicker{p}, nil
}

// CompileAll compiles every backend of s, index-aligned with s.Backends (so the
// backend index that routetable.Matcher.Match returns selects the picker), and then
// lets reg forget the endpoints and tables that s no longer uses. The pickers of
// backends unchanged since the previous CompileAll on reg are reused (reuse.go). On
// error nothing is retained or forgotten: the caller keeps serving its previous
// pickers. Calls on one registry take turns.
func CompileAll(s *routetable.Snapshot, keys *KeyRing, reg *Registry, opts Options) ([]Picker, error) {
	if reg == nil {
		reg = NewRegistry(RegistryOptions{})
	}
	reg.compileMu.Lock()
	defer reg.compileMu.Unlock()
	cfg := compileConfig{keys: keys, slidingCookies: opts.SlidingCookies, tableSize: opts.TableSize}
	// A clock cannot be compared, so a caller that sets one (tests) gets fresh pickers.
	reuse := opts.Now == nil && reg.compiled != nil && reg.config == cfg
	for _, c := range reg.compiled {
		c.kept = false
	}
	opts.known = nil // set below, once every cookie picker is known

	out := make([]Picker, len(s.Backends))
	entries := make([]*compiledBackend, len(s.Backends))
	var (
		fresh       []Picker // compiled now: their endpoints' states gain a reference
		cookies     []int    // indices of cookie backends
		tokensMoved = !reuse // whether the snapshot's token set may differ from the last
		keptCookies int
	)
	for i := range s.Backends {
		b := &s.Backends[i]
		k := keyOfBackend(b)
		var c *compiledBackend
		if reuse {
			c = reg.previousPicker(b, k)
		}
		if c != nil {
			// Keep this snapshot's slice, which is live anyway, not an older equal one.
			c.kept, c.endpoints = true, b.Endpoints
			if c.cookie != nil {
				keptCookies++
			}
		} else {
			p, err := Compile(b, keys, reg, opts)
			if err != nil {
				return nil, err
			}
			c = &compiledBackend{endpoints: b.Endpoints, policy: k, picker: p, fresh: true}
			c.cookie, _ = p.(*cookiePicker)
			fresh = append(fresh, p)
			tokensMoved = tokensMoved || c.cookie != nil
		}
		if c.cookie != nil {
			cookies = append(cookies, i)
		}
		out[i], entries[i] = c.picker, c
	}

	// Only cookie backends ever issued a token; the set is rebuilt only when one of
	// them was added, changed or removed.
	known := reg.known
	if tokensMoved || keptCookies != reg.cookieBackends {
		known = nil
		if keys != nil && len(cookies) > 0 {
			known = newTokenIndex(s, cookies, out, keys)
		}
	}
	for _, i := range cookies {
		c := entries[i]
		switch {
		case c.cookie.known == known:
		case c.fresh:
			c.cookie.known = known // not served yet
		default:
			// The previous snapshot still serves the reused picker: copy, not write.
			cp := *c.cookie
			cp.known = known
			c2 := *c
			c2.picker, c2.cookie = &cp, &cp
			entries[i], out[i] = &c2, &cp
		}
	}

	next := make(map[string]*compiledBackend, len(entries))
	for i, c := range entries {
		c.fresh = false
		next[s.Backends[i].Name] = c
	}
	switch {
	case len(next) != len(entries):
		// Duplicate names (an unvalidated snapshot): nothing to reuse by name next time.
		reg.retainAll(out)
		next = nil
	case reuse:
		reg.retainChanged(fresh, reg.compiled, out)
	default:
		reg.retainAll(out)
	}
	reg.compiled, reg.config, reg.known, reg.cookieBackends = next, cfg, known, len(cookies)
	return out, nil
}

func newPool(b *routetable.Backend, reg *Registry) (*pool, error) {
	p := &pool{eps: make([]*Endpoint, len(b.Endpoints))}
	for i := range b.Endpoints {
		e := &b.Endpoints[i]
		if e.ID == "" {
			return nil, fmt.Errorf("endpoint %d (%s): empty ID", i, e.Address)
		}
		p.eps[i] = &Endpoint{
			ID:          e.ID,
			Address:     e.Address,
			State:       reg.State(e.ID, e.Address),
			Weight:      max(e.Weight, 1),
			Ready:       e.Ready,
			Serving:     e.Serving,
			Terminating: e.Terminating,
		}
	}
	// The snapshot promises ID order; sorting anyway keeps the hashing table (and so
	// every replica's answer) independent of how the endpoints were listed.
	slices.SortFunc(p.eps, func(x, y *Endpoint) int { return cmp.Compare(x.ID, y.ID) })
	for i := 1; i < len(p.eps); i++ {
		if p.eps[i].ID == p.eps[i-1].ID {
			return nil, fmt.Errorf("endpoint %q: duplicate ID", p.eps[i].ID)
		}
	}
	var idx, weights []int32
	for i, e := range p.eps {
		if e.Ready {
			idx = append(idx, int32(i))
			weights = append(weights, e.Weight)
		}
	}
	p.ready = weightedSequence(idx, weights)
	if b.LoadBalance == routetable.LeastRequest {
		p.lb = leastRequest{}
	} else {
		p.lb = newRoundRobin()
	}
	return p, nil
}

// plainPicker serves a backend without affinity: every request is load-balanced.
type plainPicker struct{ *pool }

var _ Picker = (*plainPicker)(nil)

func (p *plainPicker) Pick(*Request) Decision { return p.decide(nil) }

func (p *plainPicker) Retry(_ *Request, failed *Endpoint) Decision { return p.decide(failed) }

func (p *plainPicker) decide(exclude *Endpoint) Decision {
	if e := p.pickNew(exclude); e != nil {
		return Decision{Endpoint: e, Outcome: OutcomeNone}
	}
	return Decision{Outcome: OutcomeNoEndpoint}
}

// Endpoints lists the compiled endpoints, sorted by ID.
func (p *pool) Endpoints() []*Endpoint { return p.eps }
