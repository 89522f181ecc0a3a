package proxy

import (
	"sync"
	"sync/atomic"
	"time"
)

// idlePools keeps h1Transport's idle keep-alive connections, one pool per endpoint
// address. A pool is a stack: the connection used last is used next, so under light
// load the same few connections stay warm and the rest age out.
//
// Connections idle longer than idleTimeout are closed by a sweep that runs only while
// some connection is idle (a timer, not a goroutine of its own); pools of addresses
// that no longer have idle connections (endpoints gone) are dropped by it as well.
type idlePools struct {
	idleTimeout time.Duration
	maxPerHost  int
	m           sync.Map // address → *idlePool
	sweeping    atomic.Bool
}

type idlePool struct {
	addr  string
	owner *idlePools
	mu    sync.Mutex
	conns []*h1Conn // idle, oldest first
	// lastPut is when a connection last came back: a pool is dropped only when it
	// has been empty that long, not when every connection is merely busy.
	lastPut time.Duration // monoNow's clock
	// dead: the sweep dropped this pool from the map; connections are no longer
	// put here (they would never be taken) but closed.
	dead bool
}

func (ps *idlePools) init(idleTimeout time.Duration, maxPerHost int) {
	ps.idleTimeout, ps.maxPerHost = idleTimeout, maxPerHost
}

// get returns the pool for addr, made on first use.
func (ps *idlePools) get(addr string) *idlePool {
	if p, ok := ps.m.Load(addr); ok {
		return p.(*idlePool)
	}
	p, _ := ps.m.LoadOrStore(addr, &idlePool{addr: addr, owner: ps})
	return p.(*idlePool)
}

// take pops the most recently used idle connection, or returns nil. One idle for
// long is first probed for a close by the pod; one idle past the timeout is closed,
// and with it every older one below it.
func (p *idlePool) take() *h1Conn {
	for {
		p.mu.Lock()
		n := len(p.conns)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		pc := p.conns[n-1]
		p.conns[n-1] = nil
		p.conns = p.conns[:n-1]
		p.mu.Unlock()
		idle := monoNow() - pc.idleAt
		if idle > p.owner.idleTimeout {
			pc.Close()
			continue
		}
		pc.wasIdle = idle >= staleCheckAfter
		if pc.wasIdle {
			// A response-header deadline left armed may have passed while it was
			// idle; the probe would take that for an error.
			pc.deadline.clear(pc.Conn)
			if peerClosed(pc) {
				pc.Close()
				continue
			}
		}
		return pc
	}
}

// put keeps pc for reuse, unless the pool is full.
func (p *idlePool) put(pc *h1Conn) {
	pc.idleAt = monoNow()
	p.mu.Lock()
	if p.dead || len(p.conns) >= p.owner.maxPerHost {
		p.mu.Unlock()
		pc.Close()
		return
	}
	p.conns = append(p.conns, pc)
	p.lastPut = pc.idleAt
	p.mu.Unlock()
	p.owner.armSweep()
}

// sweepInterval is how often idle connections are checked for the idle timeout: a
// connection lives at most idleTimeout plus this long unused.
func (ps *idlePools) sweepInterval() time.Duration {
	return min(ps.idleTimeout/2+time.Millisecond, 10*time.Second)
}

func (ps *idlePools) armSweep() {
	if ps.sweeping.Load() || !ps.sweeping.CompareAndSwap(false, true) {
		return
	}
	time.AfterFunc(ps.sweepInterval(), ps.sweep)
}

// sweep closes connections idle past the timeout and drops pools unused that long;
// it arms itself again while pools are left.
func (ps *idlePools) sweep() {
	now := monoNow()
	left := false
	ps.m.Range(func(k, v any) bool {
		p := v.(*idlePool)
		var expired []*h1Conn
		p.mu.Lock()
		i := 0
		for i < len(p.conns) && now-p.conns[i].idleAt > ps.idleTimeout {
			i++
		}
		if i > 0 {
			expired = append(expired, p.conns[:i]...)
			n := copy(p.conns, p.conns[i:])
			clear(p.conns[n:])
			p.conns = p.conns[:n]
		}
		if len(p.conns) == 0 && now-p.lastPut > ps.idleTimeout {
			p.dead = true
			ps.m.CompareAndDelete(k, p)
		} else {
			left = true
		}
		p.mu.Unlock()
		for _, pc := range expired {
			pc.Close()
		}
		return true
	})
	ps.sweeping.Store(false)
	if left {
		ps.armSweep()
	}
}

// closeIdle closes every idle connection.
func (ps *idlePools) closeIdle() {
	ps.m.Range(func(_, v any) bool {
		p := v.(*idlePool)
		p.mu.Lock()
		conns := p.conns
		p.conns = nil
		p.mu.Unlock()
		for _, pc := range conns {
			pc.Close()
		}
		return true
	})
}
