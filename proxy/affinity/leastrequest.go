package affinity

import "math/rand/v2"

// leastRequest is the power of two random choices: two candidates drawn from the
// weighted sequence (so weights bias the draw), the one with fewer in-flight requests
// per unit of weight wins. It avoids the herd that a global least-loaded choice
// causes when many proxies see the same counts, and costs two atomic loads.
// math/rand/v2's top-level functions use a per-thread generator: no lock, no
// allocation.
type leastRequest struct{}

var _ balancer = leastRequest{}

func (leastRequest) pick(p *pool, exclude *Endpoint) int {
	n := uint64(len(p.ready))
	if n == 0 {
		return -1
	}
	a, b := -1, -1
	// A few draws find eligible candidates unless most endpoints are ejected; then
	// the scan below decides.
	for try := 0; try < 8 && b < 0; try++ {
		i := int(p.ready[rand.Uint64N(n)])
		if !takesNew(p.eps[i], exclude) || i == a {
			continue
		}
		if a < 0 {
			a = i
		} else {
			b = i
		}
	}
	if a < 0 {
		for _, i := range p.ready {
			if takesNew(p.eps[i], exclude) {
				return int(i)
			}
		}
		return -1
	}
	if b < 0 {
		return a
	}
	ea, eb := p.eps[a], p.eps[b]
	// a.inFlight/a.weight <= b.inFlight/b.weight, without division.
	if ea.State.InFlight()*int64(eb.Weight) <= eb.State.InFlight()*int64(ea.Weight) {
		return a
	}
	return b
}
