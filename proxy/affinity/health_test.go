package affinity

import (
	"sync"
	"testing"
	"time"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

func TestPassiveHealthEjectsAndRecovers(t *testing.T) {
	clk := newClock()
	var ejected []string
	var durations []time.Duration
	reg := NewRegistry(RegistryOptions{Now: clk.now, OnEject: func(id, addr string, d time.Duration) {
		ejected = append(ejected, id)
		durations = append(durations, d)
	}})
	p := mustCompile(t, cookieBackend(eps(3), routetable.CookieAffinity{}), testKeys, reg, Options{})
	bad := p.Endpoints()[1]
	token := bad.Token

	for i := 1; i < DefaultFailureThreshold; i++ {
		bad.State.ReportFailure()
	}
	if bad.State.Ejected() {
		t.Fatalf("ejected after %d failures, want %d", DefaultFailureThreshold-1, DefaultFailureThreshold)
	}
	bad.State.ReportFailure()
	if !bad.State.Ejected() || len(ejected) != 1 || ejected[0] != "pod-001" || reg.Ejections() != 1 {
		t.Fatalf("not ejected after %d failures (hook %v, counter %d)", DefaultFailureThreshold, ejected, reg.Ejections())
	}
	if got := bad.State.EjectedUntil(); !got.Equal(clk.t.Add(DefaultEjectionTime)) {
		t.Fatalf("ejected until %v, want now + 10s", got)
	}
	// While ejected: no new sessions, and its pinned session rebalances.
	for range 30 {
		if d := p.Pick(request()); d.Endpoint == bad {
			t.Fatal("new session on an ejected endpoint")
		}
	}
	if d := p.Pick(withCookie("STICKY", token)); d.Outcome != OutcomeRebalanced || d.Endpoint == bad {
		t.Fatalf("session on an ejected endpoint: %v %s", d.Outcome, id(d))
	}
	// Failures of requests that started before the ejection do not extend it.
	for range 20 {
		bad.State.ReportFailure()
	}
	if reg.Ejections() != 1 {
		t.Fatalf("%d ejections while already ejected", reg.Ejections())
	}
	// The ejection ends by itself.
	clk.advance(DefaultEjectionTime)
	if bad.State.Ejected() {
		t.Fatal("still ejected after the ejection time")
	}
	if d := p.Pick(withCookie("STICKY", token)); d.Outcome != OutcomeHit || d.Endpoint != bad {
		t.Fatalf("after recovery: %v %s", d.Outcome, id(d))
	}
	// Ejected again without a success in between: twice as long.
	for range DefaultFailureThreshold {
		bad.State.ReportFailure()
	}
	if durations[1] != 2*DefaultEjectionTime {
		t.Fatalf("second ejection %v, want %v", durations[1], 2*DefaultEjectionTime)
	}
	clk.advance(time.Hour)
	// A success resets both the failure count and the back-off.
	for range DefaultFailureThreshold - 1 {
		bad.State.ReportFailure()
	}
	bad.State.ReportSuccess()
	for range DefaultFailureThreshold - 1 {
		bad.State.ReportFailure()
	}
	if bad.State.Ejected() {
		t.Fatal("a success did not reset the consecutive failures")
	}
	bad.State.ReportFailure()
	if durations[2] != DefaultEjectionTime {
		t.Fatalf("ejection after a success lasted %v, want the base %v", durations[2], DefaultEjectionTime)
	}
}

func TestPassiveHealthBackOffIsCapped(t *testing.T) {
	clk := newClock()
	reg := NewRegistry(RegistryOptions{Now: clk.now, FailureThreshold: 2, EjectionTime: time.Second, MaxEjectionTime: 5 * time.Second})
	s := reg.State("a", "10.0.0.1:80")
	var got []time.Duration
	for range 6 {
		s.End(false)
		s.End(false)
		got = append(got, s.EjectedUntil().Sub(clk.t))
		clk.advance(time.Minute)
	}
	want := []time.Duration{1, 2, 4, 5, 5, 5}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("ejections %v, want %v seconds", got, want)
		}
	}
}

func TestPassiveHealthDisabled(t *testing.T) {
	reg := NewRegistry(RegistryOptions{FailureThreshold: -1})
	s := reg.State("a", "10.0.0.1:80")
	for range 100 {
		s.ReportFailure()
	}
	if s.Ejected() {
		t.Fatal("ejected with passive health disabled")
	}
}

func TestAllEjectedStillServesNewRequests(t *testing.T) {
	reg := NewRegistry(RegistryOptions{FailureThreshold: 1})
	p := mustCompile(t, &routetable.Backend{Name: "b", Endpoints: eps(2)}, nil, reg, Options{})
	for _, e := range p.Endpoints() {
		e.State.ReportFailure()
	}
	if d := p.Pick(request()); d.Endpoint == nil {
		t.Fatal("every endpoint ejected: 503, want panic routing to one of them")
	}
}

func TestInFlightCounting(t *testing.T) {
	s := NewRegistry(RegistryOptions{}).State("a", "10.0.0.1:80")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				s.Begin()
				s.End(true)
				s.Acquire()
			}
		})
	}
	wg.Wait()
	if got := s.InFlight(); got != 8000 {
		t.Fatalf("in flight %d, want 8000", got)
	}
}

func TestConcurrentFailuresEjectOnce(t *testing.T) {
	var mu sync.Mutex
	n := 0
	reg := NewRegistry(RegistryOptions{OnEject: func(string, string, time.Duration) { mu.Lock(); n++; mu.Unlock() }})
	s := reg.State("a", "10.0.0.1:80")
	var wg sync.WaitGroup
	for range DefaultFailureThreshold {
		wg.Go(s.ReportFailure)
	}
	wg.Wait()
	if n != 1 || !s.Ejected() {
		t.Fatalf("%d ejections, ejected %v; want exactly one", n, s.Ejected())
	}
}

func TestRegistrySharesStateAcrossSnapshots(t *testing.T) {
	reg := NewRegistry(RegistryOptions{})
	b := &routetable.Backend{Name: "b", Endpoints: eps(3)}
	p1 := mustCompile(t, b, nil, reg, Options{})
	p1.Endpoints()[0].State.Acquire()
	p2 := mustCompile(t, b, nil, reg, Options{})
	if p2.Endpoints()[0].State != p1.Endpoints()[0].State || p2.Endpoints()[0].State.InFlight() != 1 {
		t.Fatal("a new snapshot got fresh state for an unchanged endpoint")
	}
	// Same ID, new address: a new identity.
	moved := eps(3)
	moved[0].Address = "10.9.9.9:8080"
	p3 := mustCompile(t, &routetable.Backend{Name: "b", Endpoints: moved}, nil, reg, Options{})
	if p3.Endpoints()[0].State == p1.Endpoints()[0].State {
		t.Fatal("an endpoint on a new address shares the old address's state")
	}
}

func TestRegistryForgetsUnusedState(t *testing.T) {
	// "h" has enough members for a Maglev table, which the registry caches.
	const n = rendezvousMaxMembers + 1
	reg := NewRegistry(RegistryOptions{})
	s1 := &routetable.Snapshot{Backends: []routetable.Backend{
		{Name: "a", Endpoints: eps(n)},
		{Name: "h", Endpoints: eps(n), Affinity: routetable.AffinityPolicy{Header: &routetable.HeaderAffinity{Name: "X"}}},
	}}
	if _, err := CompileAll(s1, testKeys, reg, Options{}); err != nil {
		t.Fatal(err)
	}
	if reg.Len() != n || len(reg.tables) != 1 {
		t.Fatalf("%d states, %d tables; want %d and 1", reg.Len(), len(reg.tables), n)
	}
	// Churn: every snapshot replaces the endpoints; the registry must not grow.
	for gen := range 50 {
		e := eps(n)
		for i := range e {
			e[i].ID = e[i].ID + "-" + string(rune('a'+gen%26)) + string(rune('a'+gen/26))
		}
		s := &routetable.Snapshot{Backends: []routetable.Backend{
			{Name: "a", Endpoints: e},
			{Name: "h", Endpoints: e, Affinity: routetable.AffinityPolicy{Header: &routetable.HeaderAffinity{Name: "X"}}},
		}}
		if _, err := CompileAll(s, testKeys, reg, Options{}); err != nil {
			t.Fatal(err)
		}
	}
	if reg.Len() != n || len(reg.tables) != 1 {
		t.Fatalf("after churn: %d states, %d tables; want %d and 1", reg.Len(), len(reg.tables), n)
	}
}

func TestMaglevTableReusedAcrossSnapshots(t *testing.T) {
	reg := NewRegistry(RegistryOptions{})
	b := headerBackend(eps(rendezvousMaxMembers+1), "X", "")
	p1 := mustCompile(t, b, nil, reg, Options{}).(*headerPicker)
	p2 := mustCompile(t, b, nil, reg, Options{}).(*headerPicker)
	if p1.tbl == nil || p1.tbl != p2.tbl {
		t.Fatal("an unchanged member list rebuilt its table")
	}
	b.Endpoints[2].Weight = 2
	if p3 := mustCompile(t, b, nil, reg, Options{}).(*headerPicker); p3.tbl == p1.tbl {
		t.Fatal("a weight change reused the old table")
	}
}

func TestCompileAllIndexAligned(t *testing.T) {
	s := &routetable.Snapshot{Backends: []routetable.Backend{
		{Name: "a", Endpoints: eps(1)},
		*cookieBackend(eps(2), routetable.CookieAffinity{}),
		*sourceIPBackend(eps(3), 0),
	}}
	ps, err := CompileAll(s, testKeys, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range ps {
		if len(p.Endpoints()) != len(s.Backends[i].Endpoints) {
			t.Fatalf("picker %d has %d endpoints, backend %d", i, len(p.Endpoints()), len(s.Backends[i].Endpoints))
		}
	}
	if _, ok := ps[1].(*cookiePicker); !ok {
		t.Fatalf("picker 1 is %T", ps[1])
	}
}
