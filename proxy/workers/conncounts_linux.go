package workers

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// connCounts is the workers' table of open client connections, one slot per worker,
// in memory that the supervisor and every worker map: a memfd the supervisor makes
// and passes down. A worker adds to its own slot for each connection it keeps, to
// another's for each it hands over (--balance-connections), and takes from its own
// when one closes; so each sees at accept time how busy the others are, with no
// message between them, and /metrics shows how evenly the connections are spread.
type connCounts struct {
	slots []countSlot
}

// countSlot is one worker's count on a cache line of its own: the workers write
// their own slots on every connection, and sharing a line would make each write
// invalidate the others' caches.
type countSlot struct {
	n atomic.Int64
	_ [56]byte
}

// notServing is the count of a worker that is not running, or has stopped taking
// connections: more than any worker has, so none is handed to it.
const notServing = 1 << 40

// newConnCounts makes the table for n workers, every slot notServing until its
// worker starts; the file is what the workers map.
func newConnCounts(n int) (*connCounts, *os.File, error) {
	fd, err := unix.MemfdCreate("sticky-ingress-connections", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("connection counts: %w", err)
	}
	f := os.NewFile(uintptr(fd), "connection-counts")
	if err := f.Truncate(int64(n) * int64(unsafe.Sizeof(countSlot{}))); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("connection counts: %w", err)
	}
	c, err := mapConnCounts(fd)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	for i := range c.slots {
		c.slots[i].n.Store(notServing)
	}
	return c, f, nil
}

// mapConnCounts maps the table in file fd, a slot for each worker. The mapping lasts
// as long as the process: the table is small and made once.
func mapConnCounts(fd int) (*connCounts, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("connection counts: %w", err)
	}
	n := int(st.Size / int64(unsafe.Sizeof(countSlot{})))
	if n < 1 {
		return nil, fmt.Errorf("connection counts: a file of %d bytes", st.Size)
	}
	size := n * int(unsafe.Sizeof(countSlot{}))
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("connection counts: mapping %d bytes: %w", size, err)
	}
	return &connCounts{slots: unsafe.Slice((*countSlot)(unsafe.Pointer(&mem[0])), n)}, nil
}

func (c *connCounts) load(worker int) int64     { return c.slots[worker].n.Load() }
func (c *connCounts) add(worker int, d int64)   { c.slots[worker].n.Add(d) }
func (c *connCounts) store(worker int, n int64) { c.slots[worker].n.Store(n) }

// closed counts one of worker's connections closed, but never below none: those
// sent to a worker just before it restarted were counted in the count it lost.
func (c *connCounts) closed(worker int) {
	for {
		n := c.load(worker)
		if n <= 0 || c.slots[worker].n.CompareAndSwap(n, n-1) {
			return
		}
	}
}

// open is worker's count of open connections for /metrics: 0 while it is not serving.
func (c *connCounts) open(worker int) int64 {
	if n := c.load(worker); n < notServing/2 {
		return max(n, 0)
	}
	return 0
}

// leastBusy is the worker a new connection accepted by self should go to: self,
// unless another has fewer open connections by more than an eighth of self's (by
// one, below eight): a few long-lived connections go one for one, and of many, only
// a difference the kernel's hash would not even out moves them.
func (c *connCounts) leastBusy(self int) int {
	mine := c.load(self)
	best, least := self, mine
	for i := range c.slots {
		if n := c.load(i); n < least {
			best, least = i, n
		}
	}
	if mine-least <= mine/8 {
		return self
	}
	return best
}
