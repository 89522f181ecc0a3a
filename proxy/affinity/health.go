package affinity

import (
	"sync/atomic"
	"time"
)

// Passive health: the proxy reports each upstream attempt's result (a failure is what
// the server decides it is, typically a connection error or timeout). After
// FailureThreshold consecutive failures the endpoint is ejected: new sessions avoid
// it and its pinned sessions fall back. The ejection ends by itself; repeated
// ejections without a success in between last twice as long each time, up to a cap,
// so that a dead endpoint is probed less and less often.

type healthConfig struct {
	threshold int32 // <= 0: never eject
	base, max time.Duration
	onEject   func(id, address string, d time.Duration)
	now       func() time.Time
	count     *atomic.Uint64
}

func newHealthConfig(o RegistryOptions, count *atomic.Uint64) healthConfig {
	c := healthConfig{
		threshold: int32(o.FailureThreshold),
		base:      o.EjectionTime,
		max:       o.MaxEjectionTime,
		onEject:   o.OnEject,
		now:       o.Now,
		count:     count,
	}
	if o.FailureThreshold == 0 {
		c.threshold = DefaultFailureThreshold
	}
	if c.base <= 0 {
		c.base = DefaultEjectionTime
	}
	if c.max <= 0 {
		c.max = max(DefaultMaxEjectionTime, c.base)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// ReportSuccess resets the consecutive-failure count and the ejection back-off.
func (s *EndpointState) ReportSuccess() {
	// Loads first: on the common healthy path these are reads of clean cache lines,
	// not writes that bounce between cores.
	if s.failures.Load() != 0 {
		s.failures.Store(0)
	}
	if s.ejectCount.Load() != 0 {
		s.ejectCount.Store(0)
	}
}

// ReportFailure counts a consecutive failure and ejects the endpoint when the count
// reaches the threshold. Failures reported while ejected (requests that started
// before the ejection) are ignored.
func (s *EndpointState) ReportFailure() {
	h := s.health
	if h == nil || h.threshold <= 0 || s.Ejected() {
		return
	}
	if s.failures.Add(1) != h.threshold {
		return
	}
	// Exactly one goroutine sees the count reach the threshold: it ejects.
	s.failures.Store(0)
	n := s.ejectCount.Add(1)
	d := h.base
	for i := int32(1); i < n && d < h.max; i++ {
		d *= 2
	}
	d = min(d, h.max)
	s.ejectUntil.Store(h.now().Add(d).UnixNano())
	h.count.Add(1)
	if h.onEject != nil {
		h.onEject(s.id, s.address, d)
	}
}

// Ejected reports whether passive health currently ejects the endpoint. When nothing
// is ejected it costs one atomic load and no clock read.
func (s *EndpointState) Ejected() bool {
	until := s.ejectUntil.Load()
	if until == 0 {
		return false
	}
	if s.health.now().UnixNano() < until {
		return true
	}
	// Expired: clear it so that later checks skip the clock again.
	s.ejectUntil.CompareAndSwap(until, 0)
	return false
}

// EjectedUntil is the end of the current ejection, or the zero time.
func (s *EndpointState) EjectedUntil() time.Time {
	if u := s.ejectUntil.Load(); u != 0 {
		return time.Unix(0, u)
	}
	return time.Time{}
}
