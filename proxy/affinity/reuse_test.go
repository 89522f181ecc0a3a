package affinity

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// reuseSnapshot has a cookie, a header, a source-IP and a plain backend.
func reuseSnapshot() *routetable.Snapshot {
	named := func(b *routetable.Backend, name, prefix string) routetable.Backend {
		b.Name = name
		b.Endpoints = slices.Clone(b.Endpoints)
		for i := range b.Endpoints {
			b.Endpoints[i].ID = prefix + b.Endpoints[i].ID
		}
		return *b
	}
	return &routetable.Snapshot{Backends: []routetable.Backend{
		named(cookieBackend(eps(4), routetable.CookieAffinity{}), "a-cookie", "c-"),
		named(cookieBackend(eps(3), routetable.CookieAffinity{}), "b-cookie", "d-"),
		named(headerBackend(eps(5), "X-User", ""), "c-header", "h-"),
		named(sourceIPBackend(eps(40), 24), "d-source-ip", "s-"),
		named(&routetable.Backend{Endpoints: eps(2)}, "e-plain", "p-"),
	}}
}

func mustCompileAll(t testing.TB, s *routetable.Snapshot, reg *Registry) []Picker {
	t.Helper()
	ps, err := CompileAll(s, testKeys, reg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestCompileAllReusesUnchangedPickers(t *testing.T) {
	reg := NewRegistry(RegistryOptions{})
	s1 := reuseSnapshot()
	p1 := mustCompileAll(t, s1, reg)
	p2 := mustCompileAll(t, s1, reg)
	for i := range p1 {
		if p1[i] != p2[i] {
			t.Errorf("backend %s: an unchanged backend was compiled again", s1.Backends[i].Name)
		}
	}

	// Equal content in a new slice (a builder without a cache) is unchanged too; a
	// changed endpoint or policy is not.
	s3 := reuseSnapshot()
	s3.Backends[2].Endpoints[1].Ready = false
	s3.Backends[4].LoadBalance = routetable.LeastRequest
	p3 := mustCompileAll(t, s3, reg)
	for i := range p3 {
		changed := i == 2 || i == 4
		if (p3[i] != p2[i]) != changed {
			t.Errorf("backend %s: recompiled %v, want %v", s3.Backends[i].Name, p3[i] != p2[i], changed)
		}
	}

	// Another key ring or option recompiles everything.
	p4, err := CompileAll(s3, mustKeyRing([]byte("another-key-0123456789abcdef-0123")), reg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range p4 {
		if p4[i] == p3[i] {
			t.Errorf("backend %s reused across key rings", s3.Backends[i].Name)
		}
	}
}

// TestReusedCookiePickerKnowsNewTokens: when a cookie backend changes, the unchanged
// one is served by a copy that knows the new tokens (a cookie of the other backend is
// no session, not a gone one), and the copy does not touch the picker the previous
// snapshot still serves.
func TestReusedCookiePickerKnowsNewTokens(t *testing.T) {
	reg := NewRegistry(RegistryOptions{})
	s1 := reuseSnapshot()
	s1.Backends[0].Affinity.Fallback = routetable.Strict
	p1 := mustCompileAll(t, s1, reg)

	s2 := reuseSnapshot()
	s2.Backends[0].Affinity.Fallback = routetable.Strict
	s2.Backends[1].Endpoints = append(s2.Backends[1].Endpoints, routetable.Endpoint{ID: "d-new", Address: "10.7.7.7:80", Ready: true, Serving: true})
	p2 := mustCompileAll(t, s2, reg)
	if p2[0] == p1[0] || p2[0].Endpoints()[0] != p1[0].Endpoints()[0] {
		t.Fatal("the unchanged cookie backend should be a copy sharing its compiled endpoints")
	}
	token := reg.State("d-new", "10.7.7.7:80").tokensFor(testKeys)[0]
	if d := p2[0].Pick(withCookie("STICKY", token)); d.Outcome != OutcomeNew {
		t.Errorf("new snapshot: another backend's new token gave %v, want new", d.Outcome)
	}
	if d := p1[0].Pick(withCookie("STICKY", token)); d.Outcome != OutcomeStrictMiss {
		t.Errorf("previous snapshot: a token it never knew gave %v, want strict miss (gone)", d.Outcome)
	}
	if p3 := mustCompileAll(t, s2, reg); p3[0] != p2[0] {
		t.Error("an unchanged token set copied the picker again")
	}
}

// TestCompileAllReuseMatchesFreshCompile: along random changes, pickers with reuse
// are those a cold compile gives, and the registry holds exactly the snapshot's
// endpoints, keeping the state of every endpoint that stays.
func TestCompileAllReuseMatchesFreshCompile(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	reg := NewRegistry(RegistryOptions{})
	s := reuseSnapshot()
	prev := mustCompileAll(t, s, reg)
	serial := 0
	for step := range 300 {
		next := &routetable.Snapshot{Backends: slices.Clone(s.Backends)}
		for range 1 + r.IntN(2) {
			if len(next.Backends) == 0 {
				break
			}
			i := r.IntN(len(next.Backends))
			b := &next.Backends[i]
			switch r.IntN(6) {
			case 0: // an endpoint leaves
				if len(b.Endpoints) > 0 {
					j := r.IntN(len(b.Endpoints))
					b.Endpoints = slices.Delete(slices.Clone(b.Endpoints), j, j+1)
				}
			case 1: // one joins
				serial++
				e := routetable.Endpoint{ID: fmt.Sprintf("n-%04d", serial), Address: fmt.Sprintf("10.8.%d.%d:80", serial/250, serial%250), Ready: true, Serving: true}
				b.Endpoints = append(slices.Clone(b.Endpoints), e)
				slices.SortFunc(b.Endpoints, func(x, y routetable.Endpoint) int { return compareStrings(x.ID, y.ID) })
			case 2: // readiness flips
				if len(b.Endpoints) > 0 {
					b.Endpoints = slices.Clone(b.Endpoints)
					j := r.IntN(len(b.Endpoints))
					b.Endpoints[j].Ready = !b.Endpoints[j].Ready
				}
			case 3: // the backend goes
				next.Backends = slices.Delete(next.Backends, i, i+1)
			case 4: // a backend (re)appears, sharing endpoints with another
				nb := next.Backends[r.IntN(len(next.Backends))]
				nb.Name = fmt.Sprintf("z-copy-%d", step)
				next.Backends = append(next.Backends, nb)
			case 5: // the fallback changes
				b.Affinity.Fallback = []routetable.Fallback{routetable.Rebalance, routetable.Strict}[r.IntN(2)]
			}
		}
		if len(next.Backends) == 0 {
			next = reuseSnapshot()
		}
		got := mustCompileAll(t, next, reg)
		want := mustCompileAll(t, next, NewRegistry(RegistryOptions{}))
		for i := range got {
			if g, w := describePicker(got[i]), describePicker(want[i]); g != w {
				t.Fatalf("step %d, backend %s:\nreused %s\nfresh  %s", step, next.Backends[i].Name, g, w)
			}
		}
		live := map[stateKey]*EndpointState{}
		for _, p := range got {
			for _, e := range p.Endpoints() {
				live[stateKey{e.ID, e.Address}] = e.State
			}
		}
		if reg.Len() != len(live) {
			t.Fatalf("step %d: registry holds %d states, the snapshot uses %d", step, reg.Len(), len(live))
		}
		for _, p := range prev {
			for _, e := range p.Endpoints() {
				if s, ok := live[stateKey{e.ID, e.Address}]; ok && s != e.State {
					t.Fatalf("step %d: endpoint %s lost its state", step, e.ID)
				}
			}
		}
		s, prev = next, got
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// describePicker is what a picker decides from: type, endpoints with their
// conditions and tokens, policy and, for cookies, the snapshot's token set.
func describePicker(p Picker) string {
	out := fmt.Sprintf("%T", p)
	for _, e := range p.Endpoints() {
		out += fmt.Sprintf(" %s@%s(%v%v%v %s)", e.ID, e.Address, e.Ready, e.Serving, e.Terminating, e.Token)
	}
	switch p := p.(type) {
	case *cookiePicker:
		out += fmt.Sprintf(" %+v strict=%v", p.policy, p.strict)
		if p.known != nil {
			tokens := make([]string, 0, len(p.known.tokens))
			for t := range p.known.tokens {
				tokens = append(tokens, t)
			}
			slices.Sort(tokens)
			out += fmt.Sprint(" known=", tokens)
		}
	case *headerPicker:
		out += fmt.Sprintf(" members=%v seeds=%v strict=%v", p.members, p.seeds, p.strict)
	case *sourceIPPicker:
		out += fmt.Sprintf(" members=%v seeds=%v table=%v strict=%v", p.members, p.seeds, p.tbl != nil, p.strict)
	}
	return out
}

// TestCompileAllWhileServing: pickers of the previous snapshot serve while the next
// CompileAll reuses and copies them (run with -race).
func TestCompileAllWhileServing(t *testing.T) {
	reg := NewRegistry(RegistryOptions{})
	s := reuseSnapshot()
	ps := mustCompileAll(t, s, reg)
	token := ps[0].Endpoints()[1].Token
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				for _, p := range ps {
					if d := p.Pick(request("X-User", fmt.Sprint(i), "Cookie", "STICKY="+token)); d.Endpoint != nil {
						d.Endpoint.State.Begin()
						d.Endpoint.State.End(true)
					}
				}
			}
		})
	}
	for i := range 50 {
		s.Backends[1].Endpoints = append(slices.Clone(s.Backends[1].Endpoints),
			routetable.Endpoint{ID: fmt.Sprintf("d-x%03d", i), Address: fmt.Sprintf("10.6.0.%d:80", i+1), Ready: true, Serving: true})
		mustCompileAll(t, s, reg)
	}
	close(stop)
	wg.Wait()
}
