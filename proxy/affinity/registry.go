package affinity

import (
	"sync"
	"sync/atomic"
	"time"
)

// Passive-health defaults.
const (
	DefaultFailureThreshold = 5
	DefaultEjectionTime     = 10 * time.Second
	DefaultMaxEjectionTime  = 5 * time.Minute
)

// RegistryOptions configure passive health. The zero value means the defaults.
type RegistryOptions struct {
	// FailureThreshold is how many consecutive failures eject an endpoint (0 = 5;
	// negative disables ejection).
	FailureThreshold int
	// EjectionTime is the first ejection's length (0 = 10s). Each further ejection
	// without a success in between doubles it, up to MaxEjectionTime (0 = 5m).
	EjectionTime    time.Duration
	MaxEjectionTime time.Duration
	// OnEject, if set, is called (synchronously, on the request path: keep it cheap)
	// each time an endpoint is ejected, e.g. to count a metric and log.
	OnEject func(id, address string, d time.Duration)
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Registry hands out the EndpointState for an endpoint identity (ID and address), the
// same one across snapshots, and forgets states that the latest compiled snapshot no
// longer uses (CompileAll does, as Retain would). It also remembers the pickers of the
// last CompileAll, for the next one to reuse. Its methods are safe for concurrent use;
// they take a lock, but none runs on the request path. CompileAll calls take turns;
// compile the newest snapshot last: a CompileAll (or Retain) for an older snapshot
// would forget states that a newer one uses.
type Registry struct {
	health    healthConfig
	ejections atomic.Uint64

	mu     sync.Mutex
	states map[stateKey]*EndpointState
	tables map[tableKey]*maglevTable // Maglev tables by content, reused across snapshots
	// created lists the states made since the last retain: those no picker took up
	// are forgotten by the next one.
	created []*EndpointState

	// What the last CompileAll compiled (reuse.go), under compileMu.
	compileMu      sync.Mutex
	compiled       map[string]*compiledBackend // by backend name; nil: none to reuse
	config         compileConfig
	known          *tokenIndex
	cookieBackends int
}

type stateKey struct{ id, address string }

// NewRegistry returns an empty registry.
func NewRegistry(opts RegistryOptions) *Registry {
	r := &Registry{
		states: make(map[stateKey]*EndpointState),
		tables: make(map[tableKey]*maglevTable),
	}
	r.health = newHealthConfig(opts, &r.ejections)
	return r
}

// State returns the state of the endpoint (id, address), creating it if needed.
// The address is part of the identity: a Pod UID that comes back on another address
// is a new endpoint as far as in-flight counts and health are concerned.
func (r *Registry) State(id, address string) *EndpointState {
	k := stateKey{id, address}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.states[k]
	if s == nil {
		s = &EndpointState{id: id, address: address, health: &r.health}
		r.states[k] = s
		r.created = append(r.created, s)
	}
	return s
}

// Retain forgets every state and table that none of pickers uses. Call it after a
// snapshot's pickers are compiled and swapped in (CompileAll does as much). Requests still
// running on an older snapshot keep their *EndpointState; it is merely no longer shared.
// It returns how many states were forgotten. The next CompileAll compiles every
// backend anew, since pickers it would reuse may have lost their states.
func (r *Registry) Retain(pickers []Picker) int {
	r.compileMu.Lock()
	defer r.compileMu.Unlock()
	r.compiled = nil
	return r.retainAll(pickers)
}

// retainAll counts every state's references anew, from pickers alone.
func (r *Registry) retainAll(pickers []Picker) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.states {
		s.refs = 0
	}
	for _, p := range pickers {
		if p != nil {
			for _, e := range p.Endpoints() {
				e.State.refs++
			}
		}
	}
	n := 0
	for k, s := range r.states {
		if s.refs == 0 {
			delete(r.states, k)
			n++
		}
	}
	r.created = nil
	r.retainTables(pickers)
	return n
}

// retainChanged updates the references after a CompileAll that reused pickers: fresh
// pickers' states gain one, those of previous pickers not kept lose one, and states
// left with none are forgotten. It costs O(changed endpoints), not O(all endpoints).
func (r *Registry) retainChanged(fresh []Picker, previous map[string]*compiledBackend, all []Picker) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range fresh {
		for _, e := range p.Endpoints() {
			e.State.refs++
		}
	}
	forget := func(s *EndpointState) {
		if k := (stateKey{s.id, s.address}); s.refs <= 0 && r.states[k] == s {
			delete(r.states, k)
		}
	}
	for _, c := range previous {
		if c.kept {
			continue
		}
		for _, e := range c.picker.Endpoints() {
			e.State.refs--
			forget(e.State)
		}
	}
	for _, s := range r.created {
		forget(s)
	}
	r.created = nil
	r.retainTables(all)
}

// retainTables forgets the Maglev tables none of pickers uses (there are few tables:
// only backends of many endpoints have one).
func (r *Registry) retainTables(pickers []Picker) {
	if len(r.tables) == 0 {
		return
	}
	live := make(map[*maglevTable]bool)
	for _, p := range pickers {
		if h, ok := p.(interface{ table() *maglevTable }); ok {
			live[h.table()] = true
		}
	}
	for k, t := range r.tables {
		if !live[t] {
			delete(r.tables, k)
		}
	}
}

// Len is the number of endpoint states held.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.states)
}

// Ejections is the number of ejections since the registry was made (a counter for
// metrics, as an alternative to RegistryOptions.OnEject).
func (r *Registry) Ejections() uint64 { return r.ejections.Load() }

// EndpointState is per-endpoint state that survives snapshot swaps: in-flight requests
// (for least-request and bounded-load hashing) and passive health. Its methods use
// atomics only, so the request path takes no lock.
type EndpointState struct {
	id, address string
	refs        int // pickers of the live snapshot that use it (under Registry.mu)
	inFlight    atomic.Int64
	health      *healthConfig
	failures    atomic.Int32 // consecutive failures
	ejectCount  atomic.Int32 // consecutive ejections (no success in between)
	ejectUntil  atomic.Int64 // unix nanoseconds; 0 = not ejected

	tokens atomic.Pointer[tokenSet] // cookie tokens under a key ring, reused across snapshots
}

type tokenSet struct {
	ring   *KeyRing
	tokens []string
}

// ID is the endpoint's identity.
func (s *EndpointState) ID() string { return s.id }

// Address is the endpoint's "host:port".
func (s *EndpointState) Address() string { return s.address }

// Acquire counts a request in flight to the endpoint. Every Acquire needs one Release.
func (s *EndpointState) Acquire() { s.inFlight.Add(1) }

// Release ends a request counted by Acquire.
func (s *EndpointState) Release() { s.inFlight.Add(-1) }

// InFlight is the number of requests in flight to the endpoint.
func (s *EndpointState) InFlight() int64 { return s.inFlight.Load() }

// Begin is Acquire, for symmetry with End.
func (s *EndpointState) Begin() { s.Acquire() }

// End releases a request counted by Begin and reports its result to passive health.
func (s *EndpointState) End(success bool) {
	s.Release()
	if success {
		s.ReportSuccess()
	} else {
		s.ReportFailure()
	}
}

// tokensFor returns the endpoint's cookie tokens under ring, computing them only when
// the ring changed: HMACs are paid once per endpoint and key ring, not per snapshot.
func (s *EndpointState) tokensFor(ring *KeyRing) []string {
	if ts := s.tokens.Load(); ts != nil && ts.ring == ring {
		return ts.tokens
	}
	ts := &tokenSet{ring: ring, tokens: ring.tokens(s.id)}
	s.tokens.Store(ts)
	return ts.tokens
}
