package affinity

import (
	"fmt"
	"math"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// hashing is the consistent-hashing core shared by the source-IP and header pickers.
//
// The members are the endpoints that serve or have served: Ready, Serving or
// Terminating ones. An endpoint that is none of these is taken as not started yet and
// kept out, so that a scale-up never refuses keys under Strict; when it becomes Ready
// it becomes a member and takes its ~1/n share of keys.
//
// Up to rendezvousMaxMembers members of equal weight are hashed by rendezvous
// (rendezvous.go); more, or weighted ones, by a Maglev table (maglev.go).
//
// A key's endpoint is the hash's choice ("pinned"). If that endpoint cannot serve
// (ejected, not serving), Strict refuses the request and Rebalance walks on to the
// first endpoint that takes new requests: the next highest rendezvous score, or in a
// table the slots from the key's slot with a stride derived from the key. Either way
// that endpoint depends only on the key and on which endpoints are eligible, so
// replicas agree, and only the unavailable endpoint's keys move (spread over all the
// others). With a balance factor, an endpoint at or over its cap of
// ceil(factor × (in-flight + 1) × weight / total weight) also passes the key on down
// its walk (OutcomeRebalanced), under Strict too: the bound is a choice the operator
// made. Checking the cap sums the backend's in-flight counts, O(endpoints), but only
// when the chosen endpoint is busy at all.
type hashing struct {
	*pool
	members []int32  // indices into eps of the hashed members, in ID order
	seeds   []uint64 // rendezvous seeds, index-aligned with members; nil with a table
	tbl     *maglevTable
	strict  bool
	factor  float64
}

func newHashing(p *pool, a *routetable.AffinityPolicy, reg *Registry, opts Options) (*hashing, error) {
	h := &hashing{pool: p, strict: a.Fallback == routetable.Strict, factor: a.BalanceFactor}
	if f := h.factor; math.IsNaN(f) || f < 0 || (f > 0 && f <= 1) {
		return nil, fmt.Errorf("balance factor %v: want 0 or > 1", f)
	}
	var ids []string
	var weights []int32
	for i, e := range p.eps {
		if e.Ready || e.Serving || e.Terminating {
			h.members = append(h.members, int32(i))
			ids = append(ids, e.ID)
			weights = append(weights, e.Weight)
		}
	}
	if opts.TableSize == 0 && useRendezvous(weights) {
		h.seeds = make([]uint64, len(ids))
		for i, id := range ids {
			h.seeds[i] = rendezvousSeed(id)
		}
		return h, nil
	}
	size := opts.TableSize
	if size == 0 {
		size = maglevSize(len(ids))
	}
	if !isPrime(size) {
		// Only a prime size makes every member's permutation visit every slot; any
		// other size could leave the table build looping forever.
		return nil, fmt.Errorf("table size %d is not a prime", size)
	}
	if len(ids) > 0 {
		h.tbl = reg.cachedMaglev(ids, weights, size)
	}
	return h, nil
}

func (h *hashing) table() *maglevTable { return h.tbl }

// slot is the key's slot in the table.
func (h *hashing) slot(key uint64) uint64 {
	return keyHash(key) % uint64(h.tbl.size)
}

// at is the endpoint that owns slot s.
func (h *hashing) at(s uint64) *Endpoint { return h.eps[h.members[h.tbl.owner(s)]] }

// pinned is the key's endpoint with every endpoint available (tests and Retry).
func (h *hashing) pinned(key uint64) *Endpoint {
	e, _ := h.owner(key)
	return e
}

// owner is the key's endpoint and, with a table, its slot; nil without members.
func (h *hashing) owner(key uint64) (*Endpoint, uint64) {
	switch {
	case len(h.members) == 0:
		return nil, 0
	case h.tbl == nil:
		return h.eps[h.members[h.rendezvousOwner(key)]], 0
	}
	s := h.slot(key)
	return h.at(s), s
}

// pickKey decides for a request that has a key. exclude is an endpoint that just
// failed (Retry), nil on a first pick.
func (h *hashing) pickKey(key uint64, exclude *Endpoint) Decision {
	e, s := h.owner(key)
	if e == nil {
		return Decision{Outcome: OutcomeNoEndpoint}
	}
	var load loadCap
	if ok, draining := keeps(e, exclude); ok {
		switch {
		case draining:
			return Decision{Endpoint: e, Outcome: OutcomeDrained}
		case !h.overloaded(e, &load):
			return Decision{Endpoint: e, Outcome: OutcomeHit}
		}
	} else if h.strict {
		return Decision{Outcome: OutcomeStrictMiss}
	}
	if e := h.walk(key, s, exclude, &load); e != nil {
		return Decision{Endpoint: e, Outcome: OutcomeRebalanced}
	}
	return Decision{Outcome: OutcomeNoEndpoint}
}

// walk finds the next endpoint along the key's walk that takes new requests and is
// under its load cap: by rendezvous score, or in the table from slot s. Table
// ownership is interleaved, so a few steps suffice unless most endpoints are
// unavailable; after a bounded walk a scan of the members (from a key-derived start,
// so that it stays deterministic) decides.
func (h *hashing) walk(key, s uint64, exclude *Endpoint, load *loadCap) *Endpoint {
	if h.tbl == nil {
		if e := h.rendezvousWalk(key, exclude, load); e != nil {
			return e
		}
		return h.pickNew(exclude)
	}
	size := uint64(h.tbl.size)
	// Each key walks with its own stride (the size is prime, so any stride visits
	// every slot): neighbouring slots' owners are correlated in a Maglev table, and a
	// stride of 1 would hand an unavailable endpoint's keys unevenly to the others.
	stride := 1 + mix(key^seedSkip)%(size-1)
	limit := min(size, uint64(64+8*len(h.members)))
	for k, at := uint64(1), s; k < limit; k++ {
		at = (at + stride) % size
		if c := h.at(at); takesNew(c, exclude) && !h.overloaded(c, load) {
			return c
		}
	}
	n := uint64(len(h.members))
	start := key % n
	for k := uint64(0); k < n; k++ {
		if c := h.eps[h.members[(start+k)%n]]; takesNew(c, exclude) && !h.overloaded(c, load) {
			return c
		}
	}
	// Everything eligible is at its cap (possible only with exclusions) or nothing
	// is eligible: plain load balancing, with its panic mode.
	return h.pickNew(exclude)
}

// loadCap caches the backend's in-flight total for one decision.
type loadCap struct {
	done          bool
	total, weight int64
}

// overloaded reports whether bounded load forbids sending one more request to e.
func (h *hashing) overloaded(e *Endpoint, l *loadCap) bool {
	if h.factor == 0 {
		return false
	}
	in := e.State.InFlight()
	if in <= 0 {
		// The cap is at least 1, so an idle endpoint is never over it; this keeps
		// the O(n) sum off the common path of a lightly loaded backend.
		return false
	}
	if !l.done {
		l.done = true
		for _, i := range h.members {
			if m := h.eps[i]; takesNew(m, nil) {
				l.total += m.State.InFlight()
				l.weight += int64(m.Weight)
			}
		}
	}
	if l.weight == 0 {
		return false
	}
	limit := math.Ceil(h.factor * float64(l.total+1) * float64(e.Weight) / float64(l.weight))
	return float64(in) >= limit
}

// decide is Pick and Retry for both hashing pickers: a request without a key is
// load-balanced (OutcomeNew), one with a key goes through the table.
func (h *hashing) decide(key uint64, hasKey bool, exclude *Endpoint) Decision {
	if !hasKey {
		if e := h.pickNew(exclude); e != nil {
			return Decision{Endpoint: e, Outcome: OutcomeNew}
		}
		return Decision{Outcome: OutcomeNoEndpoint}
	}
	return h.pickKey(key, exclude)
}

func isPrime(n int) bool {
	if n < 2 {
		return false
	}
	for d := 2; d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return true
}
