package rawsocket

// ErrWouldBlock is what a connection's Read returns inside ServeReads when the socket
// has nothing to read: the step returns, and ServeReads waits for readiness. It is
// temporary, as net.Error means it: readers that keep what they have (bufio.Reader)
// may read again.
var ErrWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "rawsocket: nothing to read yet" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true }
