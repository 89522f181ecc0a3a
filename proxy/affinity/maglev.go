package affinity

import (
	"crypto/sha256"
	"encoding/binary"
)

// Maglev consistent hashing (Eisenbud et al., NSDI 2016). Every member has a
// permutation of the table's slots derived from its ID alone; members take turns
// claiming their next preferred free slot until the table is full. The table is a
// pure function of the sorted member IDs and weights: two replicas that see the same
// endpoints build the same table, and adding or removing one member moves little more
// than that member's share of slots.

// maglevPrimes are the table sizes: the smallest one at least maglevSlotsPer times the
// member count is used. A larger table spreads load more evenly and disrupts less
// on change; ~100 slots per member keeps both within a few percent. Below
// maglevMinSize slots Maglev's disruption grows past 10% over the optimum (at 2039
// slots, 10 -> 11 members moves 1.18 times the keys that must move), which is why small
// member lists use rendezvous hashing instead (rendezvous.go) rather than a small table.
var maglevPrimes = []int{
	1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071, 262139, 524287, 1048573,
}

const (
	maglevSlotsPer = 128
	maglevMinSize  = 65521
)

// maglevSize picks the table size for n members.
func maglevSize(n int) int {
	want := max(n*maglevSlotsPer, maglevMinSize)
	for _, p := range maglevPrimes {
		if p >= want {
			return p
		}
	}
	return maglevPrimes[len(maglevPrimes)-1]
}

// maglevTable maps slots to member indices (indices into the sorted member list the
// table was built from). Slots are 16 bits wide when the members allow it: a table of
// 65521 slots then weighs 128 KiB.
type maglevTable struct {
	size    int
	slots16 []uint16
	slots32 []uint32
}

// owner is the member index of slot s.
func (t *maglevTable) owner(s uint64) uint32 {
	if t.slots16 != nil {
		return uint32(t.slots16[s])
	}
	return t.slots32[s]
}

type tableKey [sha256.Size]byte

// maglevKey fingerprints a table's inputs, so that an unchanged member list reuses the
// table of the previous snapshot instead of rebuilding it.
func maglevKey(ids []string, weights []int32, size int) tableKey {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(size))
	h.Write(b[:])
	for i, id := range ids {
		binary.LittleEndian.PutUint64(b[:], uint64(len(id))<<32|uint64(uint32(weights[i])))
		h.Write(b[:])
		h.Write([]byte(id))
	}
	var k tableKey
	h.Sum(k[:0])
	return k
}

// buildMaglev fills a table of size slots (a prime) for members ids (sorted, unique)
// with positive weights. Weighted members claim slots in proportion to their weight:
// in round i a member of weight w claims a slot when i*w has caught up with the
// number of slots it already claimed times the largest weight (Envoy's scheme).
//
// Member i's permutation is offset, offset+skip, offset+2·skip, ... mod size. It is
// walked by addition with one conditional subtraction instead of a division per probe:
// filling a table takes about size × ln(size) probes (the last free slots are found by
// long walks), so the division was most of a build. The table is the same.
func buildMaglev(ids []string, weights []int32, size int) *maglevTable {
	t := &maglevTable{size: size}
	n := len(ids)
	if n == 0 {
		return t
	}
	// Built with 32-bit slots (room for the "empty" marker), narrowed at the end.
	const empty = ^uint32(0)
	slots := make([]uint32, size)
	for i := range slots {
		slots[i] = empty
	}
	m := uint64(size)
	pos := make([]uint64, n)    // the slot each member's permutation is at
	skip := make([]uint64, n)   // its step
	target := make([]uint64, n) // weighted turn accounting
	var maxW uint64
	for i, id := range ids {
		h := fnv1a(id)
		pos[i] = mix(h^seedOffset) % m
		skip[i] = mix(h^seedSkip)%(m-1) + 1
		maxW = max(maxW, uint64(weights[i]))
	}
	filled := 0
	for round := uint64(1); filled < size; round++ {
		for i := 0; i < n && filled < size; i++ {
			if round*uint64(weights[i]) < target[i] {
				continue
			}
			target[i] += maxW
			// Walk i's permutation to its next free slot. The permutation visits every
			// slot (size is prime, 1 <= skip < size), so this ends.
			p, k := pos[i], skip[i]
			for slots[p] != empty {
				if p += k; p >= m {
					p -= m
				}
			}
			slots[p] = uint32(i)
			filled++
			if p += k; p >= m {
				p -= m
			}
			pos[i] = p
		}
	}
	if n <= 1<<16 {
		t.slots16 = make([]uint16, size)
		for i, m := range slots {
			t.slots16[i] = uint16(m)
		}
	} else {
		t.slots32 = slots
	}
	return t
}

// cachedMaglev returns the registry's table for these inputs, building it if needed.
func (r *Registry) cachedMaglev(ids []string, weights []int32, size int) *maglevTable {
	k := maglevKey(ids, weights, size)
	r.mu.Lock()
	t := r.tables[k]
	r.mu.Unlock()
	if t != nil {
		return t
	}
	// Built outside the lock: a table takes a millisecond or so, and another backend's
	// compile need not wait for it. A racing build of the same key is merely wasted.
	t = buildMaglev(ids, weights, size)
	r.mu.Lock()
	if old := r.tables[k]; old != nil {
		t = old
	} else {
		r.tables[k] = t
	}
	r.mu.Unlock()
	return t
}
