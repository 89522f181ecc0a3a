package workers

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// With --balance-connections the workers share connections out evenly. SO_REUSEPORT
// spreads new connections by a hash of their addresses, which is even only on
// average: 64 connections from one client land 36 and 28, or 41 and 23, and each of
// a few long-lived connections (a load balancer's in front, a service mesh's) is a
// coin toss, so that two of them can leave one worker's core idle. A worker that
// accepts a connection while another has fewer open (connCounts.leastBusy) passes it
// to that one over a Unix socket (SCM_RIGHTS); the kernel keeps the connection
// meanwhile, and the client notices nothing.
//
// It is off by default, as Envoy's exact balancer is, because a move costs system
// calls on both sides, about 20 µs of CPU here: a client that opens a connection per
// request paid 9–23% more CPU per request with it on (64 and 8 connections), and a
// load of many keep-alive connections, which the hash spreads well enough, served
// no faster and with no shorter p99 (hack/ab.sh, 8 rounds). Without it the workers
// still count their connections, for /metrics, which shows when it is worth turning on.
//
// Each worker has an inbox, a SOCK_SEQPACKET socket pair whose receiving end it
// reads and whose sending end every worker holds. The supervisor keeps both ends
// open, so connections sent to a worker that is restarting wait for it, and a worker
// that is not serving has the count notServing, so that none are sent to it.

// balanceFiles are what the supervisor keeps for the counting and the sharing: the
// counts' memfd and, when connections are shared, each worker's inbox (receiving
// end, sending end).
type balanceFiles struct {
	counts     *connCounts
	countsFile *os.File
	inboxes    [][2]*os.File
}

func newBalanceFiles(n int, move bool) (*balanceFiles, error) {
	counts, f, err := newConnCounts(n)
	if err != nil {
		return nil, err
	}
	sf := &balanceFiles{counts: counts, countsFile: f}
	if !move {
		return sf, nil
	}
	for i := range n {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			sf.close()
			return nil, fmt.Errorf("inbox of worker %d: %w", i, err)
		}
		sf.inboxes = append(sf.inboxes, [2]*os.File{os.NewFile(uintptr(fds[0]), "inbox"), os.NewFile(uintptr(fds[1]), "inbox-send")})
	}
	return sf, nil
}

// forWorker lists what worker i gets: the counts and, when connections are shared,
// its inbox, then every worker's sending end (its own included, unused, so that the
// index is the worker's).
func (sf *balanceFiles) forWorker(i int) []*os.File {
	files := []*os.File{sf.countsFile}
	if sf.inboxes == nil {
		return files
	}
	files = append(files, sf.inboxes[i][0])
	for _, in := range sf.inboxes {
		files = append(files, in[1])
	}
	return files
}

func (sf *balanceFiles) close() {
	sf.countsFile.Close()
	for _, in := range sf.inboxes {
		in[0].Close()
		in[1].Close()
	}
}

// balancer is a worker's side of the counting and the sharing.
type balancer struct {
	self   int
	counts *connCounts
	// peers are the sending ends of the workers' inboxes, by worker, and inbox
	// this worker's receiving end; nil when connections are not shared.
	peers []int
	inbox *net.UnixConn
	// lns are the balanced listeners (HTTP, HTTPS; nil: none), which received
	// connections go to.
	lns [2]*balancedListener
}

// openBalancer takes the files forWorker listed, by descriptor: counts, then inbox
// and the n sending ends when connections are shared.
func openBalancer(self int, fds []int) (*balancer, error) {
	if len(fds) == 0 {
		return nil, errors.New("connection counts: no descriptor")
	}
	counts, err := mapConnCounts(fds[0])
	if err != nil {
		return nil, err
	}
	unix.Close(fds[0]) // the mapping stays
	b := &balancer{self: self, counts: counts}
	if len(fds) == 1 {
		return b, nil
	}
	if n := len(fds) - 2; n != len(counts.slots) || self >= n {
		return nil, fmt.Errorf("connection sharing: %d descriptors for worker %d of %d", len(fds), self, len(counts.slots))
	}
	f := os.NewFile(uintptr(fds[1]), "inbox")
	inbox, err := net.FileConn(f) // a duplicate, on the poller
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("connection sharing: inbox: %w", err)
	}
	b.peers, b.inbox = fds[2:], inbox.(*net.UnixConn)
	return b, nil
}

// listen makes ln (HTTP: kind 0, HTTPS: kind 1) count, and share, its connections.
func (b *balancer) listen(ln net.Listener, kind byte) net.Listener {
	l := &balancedListener{Listener: ln, b: b, kind: kind, conns: make(chan net.Conn), errs: make(chan error), closed: make(chan struct{})}
	b.lns[kind] = l
	if b.moves() {
		go l.acceptLoop()
	}
	return l
}

func (b *balancer) moves() bool { return b.inbox != nil }

// start opens this worker to connections: its count starts from none.
func (b *balancer) start() {
	b.counts.store(b.self, 0)
	if b.moves() {
		go b.receive()
	}
}

// place keeps c here, or sends it to a worker with fewer open connections, and
// reports whether it went.
func (b *balancer) place(c net.Conn, kind byte) (sent bool) {
	if to := b.counts.leastBusy(b.self); to != b.self {
		b.counts.add(to, 1) // counted at once, so that the next connection sees it
		if err := b.send(to, kind, c); err == nil {
			c.Close() // the kernel holds it for the other worker
			return true
		}
		b.counts.add(to, -1) // its inbox is full, or gone: served here instead
	}
	b.counts.add(b.self, 1)
	return false
}

func (b *balancer) send(to int, kind byte, c net.Conn) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var sendErr error
	if err := rc.Control(func(fd uintptr) {
		sendErr = unix.Sendmsg(b.peers[to], []byte{kind}, unix.UnixRights(int(fd)), nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
	}); err != nil {
		return err
	}
	return sendErr
}

// receive takes the connections other workers send until the inbox closes.
func (b *balancer) receive() {
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := b.inbox.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		for _, fd := range rights(oob[:oobn]) {
			c, err := fileConn(fd)
			if err != nil || n != 1 || int(buf[0]) >= len(b.lns) || b.lns[buf[0]] == nil {
				if c != nil {
					c.Close()
				}
				b.connDone()
				continue
			}
			b.lns[buf[0]].deliver(c)
		}
	}
}

// rights are the descriptors in a message's control data.
func rights(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if got, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

func fileConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "shared-connection")
	defer f.Close()
	return net.FileConn(f) // its own descriptor, on the poller
}

func (b *balancer) connDone() { b.counts.closed(b.self) }

// stop closes the inbox. The worker was taken out of the sharing when its
// listeners closed (balancedListener.Close), which Serve's server does as it returns.
func (b *balancer) stop() {
	if b.moves() {
		b.inbox.Close()
	}
}

// balancedListener is a worker's listener whose connections are counted and, when
// they are shared out, whose Accept returns those this worker kept and those other
// workers sent it.
type balancedListener struct {
	net.Listener
	b         *balancer
	kind      byte
	conns     chan net.Conn
	errs      chan error
	closed    chan struct{}
	closeOnce sync.Once
}

func (l *balancedListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case l.errs <- err:
			case <-l.closed:
				return
			}
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() {
				continue // the server backs off before it asks again
			}
			return
		}
		if !l.b.place(c, l.kind) {
			l.deliver(c)
		}
	}
}

// deliver hands c, counted here, to Accept, or closes it if the listener has closed.
func (l *balancedListener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
		l.b.connDone()
	}
}

func (l *balancedListener) Accept() (net.Conn, error) {
	if !l.b.moves() {
		c, err := l.Listener.Accept()
		if err == nil {
			l.b.counts.add(l.b.self, 1)
		}
		return c, err
	}
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// ConnDone is told by the proxy when a connection Accept returned is done with.
func (l *balancedListener) ConnDone() { l.b.connDone() }

// Close stops the accepting, and the sharing with this worker: no more connections
// are sent to it.
func (l *balancedListener) Close() error {
	l.closeOnce.Do(func() {
		l.b.counts.store(l.b.self, notServing)
		close(l.closed)
	})
	return l.Listener.Close()
}
