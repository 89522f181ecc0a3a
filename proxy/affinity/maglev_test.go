package affinity

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

const keyCount = 100_000

// testKeys yields keyCount key hashes, as a header picker would compute them.
func keyHashes() []uint64 {
	out := make([]uint64, keyCount)
	for i := range out {
		out[i] = fnv1a(fmt.Sprintf("user-%d", i))
	}
	return out
}

func TestMaglevSizeIsPrimeAndScales(t *testing.T) {
	for _, n := range []int{1, 10, 511, 512, 5000, 100000} {
		size := maglevSize(n)
		if !isPrime(size) || (size < n*maglevSlotsPer && size != maglevPrimes[len(maglevPrimes)-1]) {
			t.Errorf("n=%d: size %d", n, size)
		}
	}
	for _, p := range maglevPrimes {
		if !isPrime(p) {
			t.Errorf("%d is not prime", p)
		}
	}
}

func TestCompileRejectsNonPrimeTable(t *testing.T) {
	if _, err := Compile(headerBackend(eps(3), "X", ""), nil, nil, Options{TableSize: 1000}); err == nil {
		t.Fatal("a table of 1000 slots compiled")
	}
}

func TestMaglevTableDependsOnlyOnMembers(t *testing.T) {
	ids := []string{"a", "b", "c", "d"}
	w := []int32{1, 1, 2, 1}
	t1, t2 := buildMaglev(ids, w, 1021), buildMaglev(ids, w, 1021)
	if !slices.Equal(t1.slots16, t2.slots16) {
		t.Fatal("two builds of the same members differ")
	}
	// Compile sorts endpoints, so listing order does not matter either.
	e := eps(20)
	shuffled := slices.Clone(e)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, m := range hashingModes {
		a := mustCompile(t, headerBackend(e, "X-User", ""), nil, nil, m.opts)
		b := mustCompile(t, headerBackend(shuffled, "X-User", ""), nil, nil, m.opts)
		for _, k := range keyHashes()[:5000] {
			if keyOwner(a, k) != keyOwner(b, k) {
				t.Fatalf("%s: key %x: %s vs %s", m.name, k, keyOwner(a, k), keyOwner(b, k))
			}
		}
	}
}

func TestMaglevEverySlotFilledAndShared(t *testing.T) {
	for _, n := range []int{1, 2, 3, 10, 97} {
		ids := make([]string, n)
		w := make([]int32, n)
		for i := range ids {
			ids[i], w[i] = fmt.Sprintf("pod-%d", i), 1
		}
		tbl := buildMaglev(ids, w, 4093)
		counts := make([]int, n)
		for s := range tbl.size {
			counts[tbl.owner(uint64(s))]++
		}
		lo, hi := slices.Min(counts), slices.Max(counts)
		if hi-lo > 1 {
			t.Errorf("n=%d: slots per member from %d to %d, want within 1", n, lo, hi)
		}
	}
}

func TestMaglevWeightsShareSlots(t *testing.T) {
	tbl := buildMaglev([]string{"a", "b", "c"}, []int32{1, 2, 5}, 65521)
	counts := make([]int, 3)
	for s := range tbl.size {
		counts[tbl.owner(uint64(s))]++
	}
	for i, w := range []float64{1, 2, 5} {
		got := float64(counts[i]) / float64(tbl.size)
		if want := w / 8; got < want*0.98 || got > want*1.02 {
			t.Errorf("member %d: %.4f of slots, want %.4f", i, got, want)
		}
	}
	t.Logf("slots by weight 1:2:5 = %v", counts)
}

// TestHashingAddingAnEndpointMovesItsShare: 10 -> 11 endpoints moves at most 1.1/11 of
// the keys (1/11 is the least possible).
func TestHashingAddingAnEndpointMovesItsShare(t *testing.T) {
	for _, m := range hashingModes {
		t.Run(m.name, func(t *testing.T) {
			before := mustCompile(t, headerBackend(eps(10), "X-User", ""), nil, nil, m.opts)
			after := mustCompile(t, headerBackend(eps(11), "X-User", ""), nil, nil, m.opts)
			moved, toNew := 0, 0
			for _, k := range keyHashes() {
				a, b := keyOwner(before, k), keyOwner(after, k)
				if a != b {
					moved++
					if b == "pod-010" {
						toNew++
					}
				}
			}
			frac := float64(moved) / keyCount
			t.Logf("10 -> 11 endpoints: %.4f of %d keys moved (optimum 1/11 = %.4f, bound 1.1/11 = %.4f); %.4f of the moves went to the new endpoint",
				frac, keyCount, 1.0/11, 1.1/11, float64(toNew)/float64(moved))
			if frac > 1.1/11 {
				t.Fatalf("moved %.4f of keys, want at most %.4f", frac, 1.1/11)
			}
		})
	}
}

// TestHashingRemovingAnEndpointMovesOnlyItsKeys: removing 1 of 10 moves that
// endpoint's keys, and at most 2% of the others.
func TestHashingRemovingAnEndpointMovesOnlyItsKeys(t *testing.T) {
	for _, m := range hashingModes {
		t.Run(m.name, func(t *testing.T) {
			all := eps(10)
			without := append(slices.Clone(all[:4]), all[5:]...)
			before := mustCompile(t, headerBackend(all, "X-User", ""), nil, nil, m.opts)
			after := mustCompile(t, headerBackend(without, "X-User", ""), nil, nil, m.opts)
			others, movedOthers, removedKeys := 0, 0, 0
			for _, k := range keyHashes() {
				a, b := keyOwner(before, k), keyOwner(after, k)
				if a == "pod-004" {
					removedKeys++
					continue
				}
				others++
				if a != b {
					movedOthers++
				}
			}
			frac := float64(movedOthers) / float64(others)
			t.Logf("remove 1 of 10: its %d keys moved; %.4f of the other %d keys moved (bound 0.02)", removedKeys, frac, others)
			if frac > 0.02 {
				t.Fatalf("%.4f of the other keys moved, want at most 0.02", frac)
			}
		})
	}
}

// TestHashingRebalanceWalkMovesOnlyUnavailableKeys: an endpoint that is present but
// cannot serve (not Ready, or ejected) has its keys walked to others, and nobody
// else's keys move, which a rebuilt table could not promise.
func TestHashingRebalanceWalkMovesOnlyUnavailableKeys(t *testing.T) {
	for _, m := range hashingModes {
		t.Run(m.name, func(t *testing.T) {
			e := eps(10)
			healthy := mustCompile(t, headerBackend(e, "X-User", ""), nil, nil, m.opts)
			reg := NewRegistry(RegistryOptions{FailureThreshold: 1})
			p := mustCompile(t, headerBackend(e, "X-User", ""), nil, reg, m.opts)
			reg.State("pod-007", e[7].Address).ReportFailure() // ejected
			spread := map[string]int{}
			for i, k := range keyHashes()[:20000] {
				want := keyOwner(healthy, k)
				d := p.Pick(request("X-User", fmt.Sprintf("user-%d", i)))
				switch {
				case want == "pod-007":
					if d.Outcome != OutcomeRebalanced || id(d) == "pod-007" {
						t.Fatalf("key of the ejected endpoint: %v %s", d.Outcome, id(d))
					}
					spread[id(d)]++
				case d.Outcome != OutcomeHit || id(d) != want:
					t.Fatalf("key of %s moved to %s (%v)", want, id(d), d.Outcome)
				}
			}
			t.Logf("keys of the ejected endpoint went to %d others: %v", len(spread), spread)
			if len(spread) < 8 {
				t.Fatalf("ejected endpoint's keys went to %d endpoints, want them spread over most of the 9", len(spread))
			}
		})
	}
}

// TestHashingTableMembership: a terminating endpoint keeps its keys (drain); one that is
// not started yet (not Ready, not terminating) is not a member.
func TestHashingTableMembership(t *testing.T) {
	for _, m := range hashingModes {
		t.Run(m.name, func(t *testing.T) {
			e := eps(5)
			e[1].Ready, e[1].Terminating = false, true // serving, terminating: drain
			e[2].Ready, e[2].Serving = false, false    // starting
			p := mustCompile(t, headerBackend(e, "X-User", routetable.KeyFromHeader), nil, nil, m.opts).(*headerPicker)
			if got := len(p.members); got != 4 {
				t.Fatalf("%d members, want 4", got)
			}
			drained := 0
			for i := range 2000 {
				d := p.Pick(request("X-User", fmt.Sprint(i)))
				switch id(d) {
				case "pod-001":
					if d.Outcome != OutcomeDrained {
						t.Fatalf("terminating endpoint: %v", d.Outcome)
					}
					drained++
				case "pod-002":
					t.Fatal("a key went to an endpoint that is not started")
				}
			}
			if drained == 0 {
				t.Fatal("the terminating endpoint kept no keys")
			}
		})
	}
}

// TestHashingSchemeByMembers: rendezvous up to rendezvousMaxMembers members of equal
// weight, a Maglev table for more or for weighted ones.
func TestHashingSchemeByMembers(t *testing.T) {
	weighted := eps(3)
	weighted[1].Weight = 2
	for _, tc := range []struct {
		name  string
		eps   []routetable.Endpoint
		table bool
	}{
		{"one", eps(1), false},
		{"at the limit", eps(rendezvousMaxMembers), false},
		{"over the limit", eps(rendezvousMaxMembers + 1), true},
		{"weighted", weighted, true},
	} {
		p := mustCompile(t, sourceIPBackend(tc.eps, 32), nil, nil, Options{}).(*sourceIPPicker)
		if got := p.tbl != nil; got != tc.table || got == (p.seeds != nil) {
			t.Errorf("%s: table %v, rendezvous seeds %d", tc.name, got, len(p.seeds))
		}
	}
}

// referenceMaglev is buildMaglev as first written, a division per probe: the
// arithmetic of the fast build must give the very same table, since replicas of
// different versions must agree during a rolling upgrade.
func referenceMaglev(ids []string, weights []int32, size int) []uint32 {
	slots := make([]uint32, size)
	for i := range slots {
		slots[i] = ^uint32(0)
	}
	n := len(ids)
	offset, skip, next, target := make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n)
	var maxW uint64
	for i, id := range ids {
		h := fnv1a(id)
		offset[i] = mix(h^seedOffset) % uint64(size)
		skip[i] = mix(h^seedSkip)%uint64(size-1) + 1
		maxW = max(maxW, uint64(weights[i]))
	}
	for filled, round := 0, uint64(1); filled < size; round++ {
		for i := 0; i < n && filled < size; i++ {
			if round*uint64(weights[i]) < target[i] {
				continue
			}
			target[i] += maxW
			for {
				slot := (offset[i] + next[i]*skip[i]) % uint64(size)
				next[i]++
				if slots[slot] == ^uint32(0) {
					slots[slot] = uint32(i)
					filled++
					break
				}
			}
		}
	}
	return slots
}

func TestMaglevBuildMatchesReference(t *testing.T) {
	for _, tc := range []struct {
		n, size  int
		weighted bool
	}{{1, 1021, false}, {10, 65521, false}, {37, 4093, false}, {5, 8191, true}, {600, 131071, false}} {
		ids := make([]string, tc.n)
		w := make([]int32, tc.n)
		for i := range ids {
			ids[i], w[i] = fmt.Sprintf("pod-%04d", i), 1
			if tc.weighted {
				w[i] = int32(1 + i%3)
			}
		}
		got, want := buildMaglev(ids, w, tc.size), referenceMaglev(ids, w, tc.size)
		for s := range tc.size {
			if got.owner(uint64(s)) != want[s] {
				t.Fatalf("n=%d size=%d: slot %d owned by %d, reference %d", tc.n, tc.size, s, got.owner(uint64(s)), want[s])
			}
		}
	}
}

func BenchmarkBuildMaglev(b *testing.B) {
	ids := make([]string, 10)
	w := make([]int32, 10)
	for i := range ids {
		ids[i], w[i] = fmt.Sprintf("pod-%03d", i), 1
	}
	for _, size := range []int{2039, 65521} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			for b.Loop() {
				buildMaglev(ids, w, size)
			}
		})
	}
}
