package affinity

// The hash functions below are part of the wire contract between replicas and between
// versions: every replica must send a key to the same endpoint, including during a
// rolling upgrade. They must never change (a new function needs a new policy knob).
// That is also why hash/maphash, which is seeded per process, is not used for keys.

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211

	// Seeds that derive independent hashes from one FNV state.
	seedKey    = 0x9e3779b97f4a7c15 // request keys -> table slot
	seedOffset = 0xc2b2ae3d27d4eb4f // Maglev permutation offset
	seedSkip   = 0x165667b19e3779f9 // Maglev permutation skip

	seedRendezvous = 0x94d049bb133111eb // rendezvous member seed
)

// fnv1a is FNV-1a 64 over s: byte at a time, stable across platforms.
func fnv1a(s string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

// fnv1aBytes is fnv1a over a byte slice (IP addresses).
func fnv1aBytes(b []byte) uint64 {
	h := uint64(fnvOffset64)
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime64
	}
	return h
}

// mix is MurmurHash3's 64-bit finalizer. FNV's low bits avalanche poorly for short,
// similar keys ("user-1", "user-2"); the table index is taken modulo a prime, so every
// bit must count.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// keyHash is the hash of a request key (header value, masked client address).
func keyHash(h uint64) uint64 { return mix(h ^ seedKey) }
