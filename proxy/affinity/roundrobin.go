package affinity

import (
	"math/rand/v2"
	"sync/atomic"
)

// roundRobin walks the weighted sequence with one atomic counter. An endpoint that is
// ejected or excluded is skipped (its turn goes to the next one in the sequence).
type roundRobin struct {
	next atomic.Uint64
}

var _ balancer = (*roundRobin)(nil)

// newRoundRobin starts at a random point: after a snapshot swap every backend would
// otherwise send its next request to its first endpoint.
func newRoundRobin() *roundRobin {
	rr := &roundRobin{}
	rr.next.Store(rand.Uint64())
	return rr
}

func (rr *roundRobin) pick(p *pool, exclude *Endpoint) int {
	n := uint64(len(p.ready))
	if n == 0 {
		return -1
	}
	start := rr.next.Add(1) % n
	for k := uint64(0); k < n; k++ {
		i := p.ready[(start+k)%n]
		if takesNew(p.eps[i], exclude) {
			return int(i)
		}
	}
	return -1
}
