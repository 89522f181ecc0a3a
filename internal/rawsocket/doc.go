// Package rawsocket reads and writes TCP sockets with raw system calls, through the
// connection's own poller (syscall.RawConn): the same reads and writes net.Conn
// makes, the same waits for readiness, deadlines and close, without telling the
// scheduler that a system call is under way. The proxy's client and pod connections
// are wrapped so (and hack/gofloor's, to stay the floor it is meant to be).
//
// Why: a Go system call hands its P to the scheduler for the call's duration, and
// sysmon, the runtime's monitor thread, retakes a P held in a system call for
// longer than one of its ticks. A loopback write runs the receiver's TCP stack
// inline, so under load the proxy's writes routinely outlast a tick; every retake
// starts another thread and keeps sysmon polling every 20 µs instead of backing off
// to 10 ms. On this workplace's 2-core virtual machines that was about an eighth of
// the proxy's CPU time (sysmon 8.7%, thread hand-offs and the syscall bookkeeping
// the rest), which nginx and HAProxy, one event loop per core, do not pay. These
// sockets are non-blocking: no call here can block, so there is nothing for the
// scheduler to hand off.
//
// The calls are recvfrom and sendto rather than read and write: socket calls skip
// the file layer that read and write pass through (permission and fsnotify hooks);
// A/B over four alternating pairs, 2–4% less CPU per proxied request.
// MSG_NOSIGNAL: a write to a reset connection fails with EPIPE without raising
// SIGPIPE, which the runtime would only ignore.
//
// WriteOnNextRead (ask_linux.go) sends a request with the read that waits for its
// answer: Go's poller begins every read with an attempt that, right after a
// request, finds nothing (EAGAIN), a system call per exchange spent on learning
// that the answer has not come yet. nginx and HAProxy wait for readiness first.
//
// ServeReads (serve_linux.go) does the same for a server's connection: its reads
// are made only once the poller has reported bytes, not first tried after every
// answer, for the next request, which is not there yet.
//
// BatchSends (batch_linux.go) makes the sends of a process whose Go code runs on one
// thread, a proxy worker's, in batches: what a step answers and what WriteOnNextRead
// asks are copied into a batch that a flusher goroutine hands to the kernel with one
// io_uring_enter(2) once the goroutines that were ready have run.
//
// Not under the race detector: syscall.Read and Write tell it that bytes written to
// a socket happen before their reading (data through a socket orders memory between
// goroutines); raw calls cannot, and tests that write through the proxy and check
// what it recorded would be reported as races.
package rawsocket
