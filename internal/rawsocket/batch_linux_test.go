//go:build linux && !386 && !race

package rawsocket

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The package's other tests run with sends made one system call each; these turn
// the batch on (useBatch), as a worker process has it, and the proxy's tests run
// with it on throughout.

var testBatch *sendBatch

// useBatch turns batched sends on for the test, or skips it where io_uring is refused.
func useBatch(t *testing.T) {
	t.Helper()
	if testBatch == nil {
		if err := BatchSends(); err != nil {
			t.Skipf("io_uring refused here: %v", err)
		}
		testBatch = batch.Load()
	}
	batch.Store(testBatch)
	t.Cleanup(func() { batch.Store(nil) })
}

// queueOn batches p as raw's next send, as a write within a step does.
func queueOn(t *testing.T, raw net.Conn, p []byte) {
	t.Helper()
	s := raw.(*rawSocketConn)
	queued := false
	_ = s.rc.Control(func(fd uintptr) { queued = batch.Load().queue(s, fd, p) })
	if !queued {
		t.Fatal("the send was not batched")
	}
}

// The package's tests of writes within steps and of WriteOnNextRead, again with
// the batch on.
func TestBatchedSendsPassTheUnbatchedTests(t *testing.T) {
	for name, test := range map[string]func(*testing.T){
		"WritesDuringAndAfterServeReads":             TestWritesDuringAndAfterServeReads,
		"ServeReadsWakesForBytesThatCameDuringAStep": TestServeReadsWakesForBytesThatCameDuringAStep,
		"ServeReadsStepSeesEOF":                      TestServeReadsStepSeesEOF,
		"WriteOnNextReadSendsAndReadsTheAnswer":      TestWriteOnNextReadSendsAndReadsTheAnswer,
		"WriteOnNextReadLargerThanTheSocketTakes":    TestWriteOnNextReadLargerThanTheSocketTakes,
		"WriteOnNextReadToAResetPeer":                TestWriteOnNextReadToAResetPeer,
		"WriteOnNextReadPastTheDeadline":             TestWriteOnNextReadPastTheDeadline,
	} {
		t.Run(name, func(t *testing.T) {
			useBatch(t)
			test(t)
		})
	}
}

// Connections served at once, each answering its peer's pings within its steps:
// every answer arrives whole and in order, though many share a flush.
func TestBatchedAnswersOfManyConnections(t *testing.T) {
	useBatch(t)
	const conns, rounds = 16, 200
	var wg sync.WaitGroup
	for c := range conns {
		raw, peer := socketPair(t)
		_ = raw.SetDeadline(time.Now().Add(20 * time.Second))
		_ = peer.SetDeadline(time.Now().Add(20 * time.Second))
		wg.Add(2)
		go func() { // the server side: a pong for each ping, written in the step
			defer wg.Done()
			buf := make([]byte, 64)
			n := 0
			_, _ = ServeReads(raw, func() bool {
				for {
					m, err := raw.Read(buf)
					if err != nil {
						return err != ErrWouldBlock
					}
					for range bytes.Count(buf[:m], []byte("\n")) {
						if _, err := fmt.Fprintf(raw, "pong %d of %d\n", n, c); err != nil {
							t.Errorf("Write in a step: %v", err)
							return true
						}
						n++
					}
				}
			})
		}()
		go func() { // the peer: a ping, then its pong, rounds times
			defer wg.Done()
			defer peer.Close()
			line := make([]byte, 0, 64)
			one := make([]byte, 1)
			for i := range rounds {
				if _, err := peer.Write([]byte("ping\n")); err != nil {
					t.Errorf("ping: %v", err)
					return
				}
				line = line[:0]
				for len(line) == 0 || line[len(line)-1] != '\n' {
					if _, err := peer.Read(one); err != nil {
						t.Errorf("pong %d of %d: %v", i, c, err)
						return
					}
					line = append(line, one[0])
				}
				if want := fmt.Sprintf("pong %d of %d\n", i, c); string(line) != want {
					t.Errorf("read %q, want %q", line, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// A batched send holds a copy: the writer's buffer is its own again at once.
func TestBatchedSendKeepsNoHoldOfTheWritersBuffer(t *testing.T) {
	useBatch(t)
	raw, peer := socketPair(t)
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = peer.Write([]byte("go"))
	err := serveBytes(t, raw, func([]byte) bool {
		buf := []byte("first ")
		_, _ = raw.Write(buf)
		copy(buf, "secnd ") // before the batch is flushed
		_, _ = raw.Write(buf)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	closeWrite(t, raw)
	if b, _ := io.ReadAll(peer); string(b) != "first secnd " {
		t.Fatalf("the peer read %q", b)
	}
}

// A batched send the socket has no room for is finished through the poller once
// the peer reads, and the connection's next write waits for it: nothing is lost,
// nothing overtakes.
func TestBatchedSendTheSocketHasNoRoomFor(t *testing.T) {
	useBatch(t)
	raw, peer := socketPair(t)
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	s := raw.(*rawSocketConn)
	fill := pattern(rawSocketVolume)
	sent := 0
	_ = s.rc.Control(func(fd uintptr) { sent, _ = send(fd, fill) }) // until the socket is full
	if sent == len(fill) {
		t.Fatal("the socket took all of it: nothing to wait for")
	}
	queueOn(t, raw, []byte("queued"))
	got := make(chan []byte, 1)
	go func() {
		time.Sleep(20 * time.Millisecond) // the flush has found the socket full
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	if _, err := raw.Write([]byte(" last")); err != nil {
		t.Fatalf("Write after the batched send: %v", err)
	}
	closeWrite(t, raw)
	want := append(append([]byte(nil), fill[:sent]...), "queued last"...)
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("the peer read %d bytes, not the %d written in order", len(b), len(want))
	}
}

// A batched send to a peer that has reset the connection fails the next write.
func TestBatchedSendToAResetPeer(t *testing.T) {
	useBatch(t)
	raw, peer := socketPair(t)
	_ = peer.SetLinger(0)
	peer.Close()
	time.Sleep(10 * time.Millisecond)
	queueOn(t, raw, []byte("lost"))
	_, err := raw.Write([]byte("then"))
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "write" || !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Write after a batched send to a reset peer: %v; want ECONNRESET or EPIPE", err)
	}
}

// Close hands over a send that waits in the batch before the descriptor goes.
func TestCloseSendsWhatIsBatched(t *testing.T) {
	useBatch(t)
	raw, peer := socketPair(t)
	_ = peer.SetDeadline(time.Now().Add(10 * time.Second))
	queueOn(t, raw, []byte("goodbye"))
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(peer); string(b) != "goodbye" || err != nil {
		t.Fatalf("the peer read %q, %v", b, err)
	}
	s := raw.(*rawSocketConn)
	if batch.Load().queue(s, 0, []byte("more")) {
		t.Fatal("a closed connection's send was batched")
	}
}
