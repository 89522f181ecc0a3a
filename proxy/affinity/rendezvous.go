package affinity

// Rendezvous (highest random weight) hashing for small member lists: a key goes to the
// member with the highest score mix(keyHash(key) ^ seed(member)), and when that member
// cannot take it, to the next highest that can.
//
// Why not a small Maglev table: a table's cost is its size (build time ~ size × ln size,
// 2 bytes a slot), and Maglev needs tens of thousands of slots to stay near the minimal
// disruption. At 2039 slots, 10 -> 11 members moves 1.18 times the keys that must move;
// at 65521 slots a build takes ~1.2 ms and 128 KiB, which at 10k hashing backends is
// 12 s and 1.3 GiB per full compile. Rendezvous needs no table at all (compile cost:
// one hash per member), moves exactly the keys that must move (a new member takes only
// the keys it now scores highest for; a removed one gives away only its own), and
// spreads keys as evenly as the hash does. Its price is a pick of O(members), about
// 1.5 ns per member (130 ns at 64, against 45 ns for a table lookup; BenchmarkPick),
// which is why larger member lists keep the Maglev table.
//
// Scores depend only on the key and the member ID: replicas agree without sharing
// anything, and a member's score for a key is the same in every snapshot.
const rendezvousMaxMembers = 64

// useRendezvous reports whether members of these weights are hashed by rendezvous. Only
// equal weights are: weighted rendezvous needs floating-point logarithms, whose last
// bit may differ between architectures, and replicas must agree exactly.
func useRendezvous(weights []int32) bool {
	if len(weights) > rendezvousMaxMembers {
		return false
	}
	for _, w := range weights {
		if w != weights[0] {
			return false
		}
	}
	return true
}

// rendezvousSeed is a member's seed: a function of its ID alone.
func rendezvousSeed(id string) uint64 { return mix(fnv1a(id) ^ seedRendezvous) }

// rendezvousOwner is the index (into h.members) of the key's highest-scoring member;
// ties (a 2^-64 chance) go to the lower index, i.e. the lower ID.
func (h *hashing) rendezvousOwner(key uint64) int {
	k := keyHash(key)
	best, top := 0, mix(k^h.seeds[0])
	for i := 1; i < len(h.seeds); i++ {
		if s := mix(k ^ h.seeds[i]); s > top {
			best, top = i, s
		}
	}
	return best
}

// rendezvousWalk is the highest-scoring member that takes new requests and is under its
// load cap, or nil. It depends only on the key and on which members are eligible, so
// an unavailable member's keys spread evenly over the others and nobody else's move.
func (h *hashing) rendezvousWalk(key uint64, exclude *Endpoint, load *loadCap) *Endpoint {
	k := keyHash(key)
	var best *Endpoint
	var top uint64
	for i, seed := range h.seeds {
		s := mix(k ^ seed)
		if best != nil && s <= top {
			continue
		}
		if c := h.eps[h.members[i]]; takesNew(c, exclude) && !h.overloaded(c, load) {
			best, top = c, s
		}
	}
	return best
}
