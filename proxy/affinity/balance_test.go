package affinity

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// maxOverMean is max/mean of the counts.
func maxOverMean(counts map[string]int, n int) float64 {
	total, hi := 0, 0
	for _, c := range counts {
		total += c
		hi = max(hi, c)
	}
	return float64(hi) / (float64(total) / float64(n))
}

func TestNewSessionsSpreadEvenly(t *testing.T) {
	cases := []struct {
		name    string
		backend *routetable.Backend
		request func(i int) *Request
		bound   float64
		opts    Options
	}{
		{"cookie round-robin", cookieBackend(eps(10), routetable.CookieAffinity{}), func(int) *Request { return request() }, 1.02, Options{}},
		{"cookie least-request", withLB(cookieBackend(eps(10), routetable.CookieAffinity{}), routetable.LeastRequest), func(int) *Request { return request() }, 1.02, Options{}},
		{"no affinity round-robin", &routetable.Backend{Name: "b", Endpoints: eps(10)}, func(int) *Request { return request() }, 1.02, Options{}},
		{"header hashing, random keys", headerBackend(eps(10), "X-User", ""), func(int) *Request {
			return request("X-User", fmt.Sprintf("%016x", rand.Uint64()))
		}, 1.10, Options{}},
		{"source-ip hashing, random addresses", sourceIPBackend(eps(10), 32), func(int) *Request {
			a := rand.Uint32()
			return ipRequest(fmt.Sprintf("%d.%d.%d.%d", a>>24, a>>16&255, a>>8&255, a&255))
		}, 1.10, Options{}},
		{"header hashing in a Maglev table, random keys", headerBackend(eps(10), "X-User", ""), func(int) *Request {
			return request("X-User", fmt.Sprintf("%016x", rand.Uint64()))
		}, 1.10, hashingModes[1].opts},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompile(t, tc.backend, testKeys, nil, tc.opts)
			counts := map[string]int{}
			for i := range keyCount {
				d := p.Pick(tc.request(i))
				if d.Endpoint == nil {
					t.Fatalf("no endpoint: %v", d.Outcome)
				}
				counts[d.Endpoint.ID]++
				// Least request sees every session as still open.
				d.Endpoint.State.Acquire()
			}
			r := maxOverMean(counts, 10)
			t.Logf("%d sessions over 10 endpoints: max/mean %.4f (bound %.2f)", keyCount, r, tc.bound)
			if len(counts) != 10 || r > tc.bound {
				t.Fatalf("max/mean %.4f over %d endpoints, want <= %.2f over 10", r, len(counts), tc.bound)
			}
		})
	}
}

func withLB(b *routetable.Backend, lb routetable.LoadBalance) *routetable.Backend {
	b.LoadBalance = lb
	return b
}

// TestBoundedLoadUnderSkew: with Zipf-distributed keys, plain Maglev piles the hot
// keys' load on a few endpoints (rendezvous too); a balance factor of 1.25 keeps every endpoint within
// ceil(1.25 × mean) in-flight requests. Requests are never released, so in-flight
// counts only grow (the hardest case for the bound).
func TestBoundedLoadUnderSkew(t *testing.T) {
	for _, m := range hashingModes {
		for _, factor := range []float64{0, 1.25} {
			t.Run(fmt.Sprintf("%s factor %v", m.name, factor), func(t *testing.T) {
				b := headerBackend(eps(10), "X-User", "")
				b.Affinity.BalanceFactor = factor
				p := mustCompile(t, b, nil, nil, m.opts)
				zipf := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.1, 1, 10000)
				outcomes := map[Outcome]int{}
				const n = 20000
				for range n {
					d := p.Pick(request("X-User", fmt.Sprintf("user-%d", zipf.Uint64())))
					d.Endpoint.State.Acquire()
					outcomes[d.Outcome]++
				}
				var inFlight []int64
				for _, e := range p.Endpoints() {
					inFlight = append(inFlight, e.State.InFlight())
				}
				mean := float64(n) / 10
				hi := slices.Max(inFlight)
				t.Logf("in-flight per endpoint %v: max %d, mean %.0f, max/mean %.3f; outcomes hit %d rebalanced %d",
					inFlight, hi, mean, float64(hi)/mean, outcomes[OutcomeHit], outcomes[OutcomeRebalanced])
				if factor == 0 {
					if float64(hi) <= math.Ceil(1.25*mean) {
						t.Fatalf("the skewed keys did not overload an unbounded table (max %d): the test proves nothing", hi)
					}
					return
				}
				if limit := int64(math.Ceil(factor * mean)); hi > limit {
					t.Fatalf("max in-flight %d exceeds ceil(%.2f × mean) = %d", hi, factor, limit)
				}
			})
		}
	}
}

func TestBoundedLoadLeavesIdleBackendAlone(t *testing.T) {
	for _, m := range hashingModes {
		b := headerBackend(eps(4), "X-User", "")
		b.Affinity.BalanceFactor = 1.25
		p := mustCompile(t, b, nil, nil, m.opts)
		unbounded := mustCompile(t, headerBackend(eps(4), "X-User", ""), nil, nil, m.opts)
		for i := range 1000 {
			r := request("X-User", fmt.Sprint(i))
			if d, u := p.Pick(r), unbounded.Pick(r); d.Outcome != OutcomeHit || id(d) != id(u) {
				t.Fatalf("%s: key %d: %v %s, want the unbounded choice %s", m.name, i, d.Outcome, id(d), id(u))
			}
		}
	}
}

func TestWeightsHonoured(t *testing.T) {
	weighted := func() []routetable.Endpoint {
		e := eps(3)
		e[0].Weight, e[1].Weight, e[2].Weight = 1, 2, 5
		return e
	}
	cases := []struct {
		name    string
		backend *routetable.Backend
		request func() *Request
		tol     float64
	}{
		{"round-robin", &routetable.Backend{Name: "b", Endpoints: weighted()}, func() *Request { return request() }, 0.001},
		{"least-request", &routetable.Backend{Name: "b", Endpoints: weighted(), LoadBalance: routetable.LeastRequest}, func() *Request { return request() }, 0.03},
		{"header hashing", headerBackend(weighted(), "X-User", ""), func() *Request {
			return request("X-User", fmt.Sprint(rand.Uint64()))
		}, 0.03},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompile(t, tc.backend, nil, nil, Options{})
			counts := map[string]int{}
			const n = 80000
			for range n {
				d := p.Pick(tc.request())
				counts[id(d)]++
				d.Endpoint.State.Acquire()
			}
			for i, w := range []float64{1, 2, 5} {
				got := float64(counts[fmt.Sprintf("pod-%03d", i)]) / n
				if want := w / 8; math.Abs(got-want) > tc.tol*want+0.001 {
					t.Errorf("weight %v: share %.4f, want %.4f", w, got, want)
				}
			}
			t.Logf("shares for weights 1:2:5: %v", counts)
		})
	}
}

func TestWeightedSequenceInterleaves(t *testing.T) {
	seq := weightedSequence([]int32{0, 1, 2}, []int32{5, 1, 1})
	if want := []int32{0, 0, 0, 1, 2, 0, 0}; !slices.Equal(seq, want) {
		t.Fatalf("sequence %v, want %v", seq, want)
	}
	if seq := weightedSequence([]int32{4, 7, 9}, []int32{3, 3, 3}); !slices.Equal(seq, []int32{4, 7, 9}) {
		t.Fatalf("equal weights: %v", seq)
	}
	// 2:1 alternates rather than bunching.
	if seq := weightedSequence([]int32{0, 1}, []int32{20, 10}); !slices.Equal(seq, []int32{0, 1, 0}) {
		t.Fatalf("2:1 reduced by gcd: %v", seq)
	}
	long := weightedSequence([]int32{0, 1}, []int32{1_000_000, 1})
	if len(long) > 4097 || !slices.Contains(long, 1) {
		t.Fatalf("large weights: length %d, light member present %v", len(long), slices.Contains(long, 1))
	}
}

func TestLeastRequestPrefersIdle(t *testing.T) {
	p := mustCompile(t, &routetable.Backend{Name: "b", Endpoints: eps(3), LoadBalance: routetable.LeastRequest}, nil, nil, Options{})
	busy := p.Endpoints()[:2]
	for _, e := range busy {
		for range 10 {
			e.State.Acquire()
		}
	}
	idle := 0
	const n = 30000
	for range n {
		if id(p.Pick(request())) == "pod-002" {
			idle++
		}
	}
	// Two distinct candidates out of three include the idle one 2/3 of the time.
	share := float64(idle) / n
	t.Logf("idle endpoint took %.3f of picks (power of two choices: 2/3)", share)
	if share < 0.62 {
		t.Fatalf("idle endpoint took %.3f of picks, want about 2/3", share)
	}
}

func TestRoundRobinCycles(t *testing.T) {
	p := mustCompile(t, &routetable.Backend{Name: "b", Endpoints: eps(4)}, nil, nil, Options{})
	var first []string
	for range 4 {
		first = append(first, id(p.Pick(request())))
	}
	slices.Sort(first)
	if !slices.Equal(first, []string{"pod-000", "pod-001", "pod-002", "pod-003"}) {
		t.Fatalf("4 picks reached %v, want each endpoint once", first)
	}
}
