package affinity

import (
	"container/heap"
	"slices"
)

// pool is a backend's compiled endpoints and the conditions that decide where a
// request may go. It is immutable; only the EndpointStates it points to change.
type pool struct {
	eps []*Endpoint // sorted by ID: the order every replica agrees on
	// ready lists the indices of Ready endpoints, each repeated and interleaved by
	// weight: the round-robin sequence and the least-request candidate pool.
	ready []int32
	lb    balancer
}

// balancer picks an endpoint for a request that has no session (or whose session
// cannot be honoured). It returns -1 when nothing can serve.
type balancer interface {
	pick(p *pool, exclude *Endpoint) int
}

// takesNew reports whether e may take a new session: Ready and not ejected.
func takesNew(e, exclude *Endpoint) bool {
	return e.Ready && !sameEndpoint(e, exclude) && !e.State.Ejected()
}

// keeps reports whether e may keep a session pinned to it, and whether that is a
// drain (terminating but still serving: it keeps its sessions and gets no new ones).
func keeps(e, exclude *Endpoint) (ok, draining bool) {
	if sameEndpoint(e, exclude) || e.State.Ejected() {
		return false, false
	}
	switch {
	case e.Ready:
		return true, false
	case e.Serving && e.Terminating:
		return true, true
	}
	return false, false
}

// sameEndpoint compares identities, not pointers: the endpoint that failed may come
// from the previous snapshot's picker.
func sameEndpoint(e, x *Endpoint) bool {
	if x == nil {
		return false
	}
	if e == x {
		return true
	}
	if e.State != nil && e.State == x.State {
		return true
	}
	return e.ID == x.ID && e.Address == x.Address
}

// pickNew is a load-balanced pick for a request without a usable session. If every
// ready endpoint is ejected, it picks among them anyway ("panic mode", as Envoy
// does): passive health can be wrong, and trying beats a certain 503.
func (p *pool) pickNew(exclude *Endpoint) *Endpoint {
	if i := p.pickNewIndex(exclude); i >= 0 {
		return p.eps[i]
	}
	return nil
}

// pickNewIndex is pickNew's choice as an index into p.eps, or -1.
func (p *pool) pickNewIndex(exclude *Endpoint) int {
	if i := p.lb.pick(p, exclude); i >= 0 {
		return i
	}
	for _, i := range p.ready {
		if !sameEndpoint(p.eps[i], exclude) {
			return int(i)
		}
	}
	return -1
}

// weightedSequence interleaves the indices of the given endpoints by weight, once at
// compile time, so that the request path needs only an atomic counter. Weights are
// divided by their gcd and, if their sum is large, scaled down to keep the sequence
// short. The order is earliest-deadline-first: the k-th turn of an endpoint of weight w
// is due at (k+½)/w, ties to the lower index; so turns are spread evenly, and the
// build costs O(sum × log n) rather than the O(sum × n) of nginx's smooth variant.
func weightedSequence(idx []int32, weights []int32) []int32 {
	if len(idx) == 0 {
		return nil
	}
	w := make([]int64, len(idx))
	g := int64(0)
	for i := range idx {
		w[i] = int64(weights[i])
		g = gcd(g, w[i])
	}
	var sum int64
	for i := range w {
		w[i] /= g
		sum += w[i]
	}
	if sum == int64(len(w)) {
		return slices.Clone(idx) // equal weights: each once, in ID order
	}
	const maxLen = 4096
	if sum > maxLen {
		var s int64
		for i := range w {
			w[i] = max(1, w[i]*maxLen/sum)
			s += w[i]
		}
		sum = s
	}
	h := &turnHeap{w: w, turns: make([]int64, len(w))}
	for i := range w {
		h.order = append(h.order, i)
	}
	heap.Init(h)
	seq := make([]int32, 0, sum)
	for range sum {
		i := h.order[0]
		seq = append(seq, idx[i])
		h.turns[i]++
		heap.Fix(h, 0)
	}
	return seq
}

// turnHeap orders endpoints by the deadline of their next turn, (2k+1)/w, compared
// exactly by cross-multiplication.
type turnHeap struct {
	w, turns []int64
	order    []int
}

func (h *turnHeap) Len() int { return len(h.order) }
func (h *turnHeap) Less(a, b int) bool {
	i, j := h.order[a], h.order[b]
	l, r := (2*h.turns[i]+1)*h.w[j], (2*h.turns[j]+1)*h.w[i]
	return l < r || l == r && i < j
}
func (h *turnHeap) Swap(a, b int) { h.order[a], h.order[b] = h.order[b], h.order[a] }
func (h *turnHeap) Push(any)      { panic("fixed size") }
func (h *turnHeap) Pop() any      { panic("fixed size") }

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
