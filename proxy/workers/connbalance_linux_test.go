package workers

import (
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// balancingPair is two workers' balancers in this process, as two worker processes
// would have them, each on a loopback listener of its own; move: with
// --balance-connections.
type balancingPair struct {
	files    *balanceFiles
	b        [2]*balancer
	ln       [2]net.Listener
	accepted chan acceptedConn
}

type acceptedConn struct {
	c      net.Conn
	worker int
}

func newBalancingPair(t *testing.T, move bool) *balancingPair {
	t.Helper()
	sf, err := newBalanceFiles(2, move)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sf.close)
	p := &balancingPair{files: sf, accepted: make(chan acceptedConn, 16)}
	for i := range p.b {
		var fds []int
		for _, f := range sf.forWorker(i) {
			fd, err := unix.Dup(int(f.Fd())) // the worker's own copy, as exec gives it
			if err != nil {
				t.Fatal(err)
			}
			fds = append(fds, fd)
		}
		b, err := openBalancer(i, fds)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p.b[i], p.ln[i] = b, b.listen(ln, 0)
		b.start()
		t.Cleanup(func() { p.ln[i].Close(); b.stop() })
		go func() {
			for {
				c, err := p.ln[i].Accept()
				if err != nil {
					return
				}
				p.accepted <- acceptedConn{c, i}
			}
		}()
	}
	return p
}

// accept returns the next connection either worker's Accept gives, and which.
func (p *balancingPair) accept(t *testing.T) (net.Conn, int) {
	t.Helper()
	select {
	case a := <-p.accepted:
		t.Cleanup(func() { a.c.Close() })
		return a.c, a.worker
	case <-time.After(5 * time.Second):
		t.Fatal("no worker accepted the connection within 5 s")
		return nil, -1
	}
}

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Connections that all reach one worker's listener are shared out one for one, and a
// connection that moved carries its bytes both ways as if accepted where it landed.
func TestConnectionsAreSharedOutEvenly(t *testing.T) {
	p := newBalancingPair(t, true)
	var served [2][]net.Conn
	for range 6 {
		client := dialTCP(t, p.ln[0].Addr().String())
		if _, err := client.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		c, i := p.accept(t)
		served[i] = append(served[i], c)
		buf := make([]byte, 4)
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("worker %d read %q, %v", i, buf, err)
		}
		if _, err := c.Write([]byte("pong")); err != nil {
			t.Fatal(err)
		}
		_ = client.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "pong" {
			t.Fatalf("client read %q, %v", buf, err)
		}
	}
	if len(served[0]) != 3 || len(served[1]) != 3 {
		t.Fatalf("served %d and %d connections, want 3 and 3", len(served[0]), len(served[1]))
	}
	counts := p.files.counts
	if counts.load(0) != 3 || counts.load(1) != 3 {
		t.Fatalf("counts %d and %d, want 3 and 3", counts.load(0), counts.load(1))
	}
	for i, cs := range served {
		for _, c := range cs {
			c.Close()
			p.ln[i].(*balancedListener).ConnDone()
		}
	}
	if counts.load(0) != 0 || counts.load(1) != 0 {
		t.Fatalf("counts %d and %d after every connection closed, want 0 and 0", counts.load(0), counts.load(1))
	}
}

// A worker that is not serving gets nothing, and one whose inbox is gone has its
// connections served where they were accepted: none is lost.
func TestConnectionsStayWhenNoOtherWorkerCanTakeThem(t *testing.T) {
	p := newBalancingPair(t, true)
	p.files.counts.store(1, notServing)
	for range 3 {
		dialTCP(t, p.ln[0].Addr().String())
		if _, i := p.accept(t); i != 0 {
			t.Fatalf("a connection went to worker %d, which is not serving", i)
		}
	}
	p.files.counts.store(1, 0)
	// Worker 1's inbox is gone: every receiving end is closed.
	p.files.inboxes[1][0].Close()
	p.b[1].inbox.Close()
	for range 2 {
		client := dialTCP(t, p.ln[0].Addr().String())
		c, i := p.accept(t)
		if i != 0 {
			t.Fatalf("a connection went to worker %d, whose inbox is gone", i)
		}
		if _, err := client.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.files.counts.load(0); n != 5 {
		t.Fatalf("worker 0 counts %d connections, want 5", n)
	}
}

// A count never goes below none, and a worker not serving reports none.
func TestConnectionCountsStayInRange(t *testing.T) {
	c, f, err := newConnCounts(2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if c.open(0) != 0 || c.leastBusy(0) != 0 {
		t.Fatalf("before its worker starts: open %d, leastBusy %d", c.open(0), c.leastBusy(0))
	}
	c.store(0, 0)
	c.closed(0)
	if n := c.load(0); n != 0 {
		t.Fatalf("count %d after a close with none open, want 0", n)
	}
	c.store(1, 0)
	c.add(0, 2)
	if got := c.leastBusy(0); got != 1 {
		t.Fatalf("leastBusy(0) = %d with counts 2 and 0, want 1", got)
	}
	c.add(1, 2)
	if got := c.leastBusy(0); got != 0 {
		t.Fatalf("leastBusy(0) = %d with counts 2 and 2: a tie stays", got)
	}
}

// Without --balance-connections every connection stays where the kernel put it, and
// is counted there all the same.
func TestConnectionsAreCountedWhereTheyLandWhenNotShared(t *testing.T) {
	p := newBalancingPair(t, false)
	for range 4 {
		dialTCP(t, p.ln[0].Addr().String())
		if _, i := p.accept(t); i != 0 {
			t.Fatalf("a connection went to worker %d with sharing off", i)
		}
	}
	if a, b := p.files.counts.load(0), p.files.counts.load(1); a != 4 || b != 0 {
		t.Fatalf("counts %d and %d, want 4 and 0", a, b)
	}
	p.ln[0].(*balancedListener).ConnDone()
	if n := p.files.counts.load(0); n != 3 {
		t.Fatalf("count %d after a close, want 3", n)
	}
}
