//go:build linux && !386 && !race

package rawsocket

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// serveBytes runs ServeReads on raw with a step that reads what there is into got,
// calling each with every chunk; each may stop the serve (true), as does EOF.
func serveBytes(t *testing.T, raw net.Conn, each func(got []byte) bool) error {
	t.Helper()
	var got []byte
	buf := make([]byte, 64)
	ok, err := ServeReads(raw, func() bool {
		for {
			n, err := raw.Read(buf)
			switch {
			case err == ErrWouldBlock:
				return false
			case err == io.EOF:
				return true
			case err != nil:
				t.Errorf("Read in a step: %v", err)
				return true
			}
			got = append(got, buf[:n]...)
			if each(got) {
				return true
			}
		}
	})
	if !ok {
		t.Fatal("ServeReads refused a raw socket")
	}
	return err
}

func TestServeReadsReadsWhatComesAndWaitsBetween(t *testing.T) {
	raw, peer := socketPair(t)
	_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	go func() {
		for _, b := range []string{"one ", "two ", "three"} {
			time.Sleep(10 * time.Millisecond) // the step has found the socket empty
			_, _ = peer.Write([]byte(b))
		}
	}()
	err := serveBytes(t, raw, func(got []byte) bool { return string(got) == "one two three" })
	if err != nil {
		t.Fatalf("ServeReads: %v", err)
	}
	// Afterwards Read is an ordinary one again: it waits.
	go func() { time.Sleep(10 * time.Millisecond); _, _ = peer.Write([]byte("!")) }()
	if b, err := io.ReadAll(io.LimitReader(raw, 1)); err != nil || string(b) != "!" {
		t.Fatalf("Read after ServeReads: %q, %v", b, err)
	}
}

// The reason ServeReads exists: bytes that arrive while a step runs without reading
// (a pipelining client's next request, sent while its last is served) wake the
// wait that follows, though no read was made for them. A Read per request would
// have reset the readiness they reported, and waited for ever.
func TestServeReadsWakesForBytesThatCameDuringAStep(t *testing.T) {
	raw, peer := socketPair(t)
	_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _ = peer.Write([]byte("first"))
	err := serveBytes(t, raw, func(got []byte) bool {
		if string(got) == "first" {
			// Serving the first: the next comes meanwhile, after the socket was
			// read empty (nothing left) and before the step returns.
			_, _ = peer.Write([]byte(" second"))
			time.Sleep(20 * time.Millisecond)
			return false
		}
		return string(got) == "first second"
	})
	if err != nil {
		t.Fatalf("ServeReads: %v (the second chunk did not wake it)", err)
	}
}

func TestServeReadsEndsAtTheDeadlineAndOnClose(t *testing.T) {
	raw, _ := socketPair(t)
	_ = raw.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	var op *net.OpError
	err := serveBytes(t, raw, func([]byte) bool { return true })
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &op) || op.Op != "read" {
		t.Fatalf("ServeReads past the deadline: %v; want a read timeout", err)
	}
	_ = raw.SetReadDeadline(time.Time{})
	go func() { time.Sleep(20 * time.Millisecond); raw.Close() }()
	if err := serveBytes(t, raw, func([]byte) bool { return true }); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ServeReads on a closed connection: %v; want net.ErrClosed", err)
	}
}

// EOF reaches the step through Read, after the bytes before it, though the FIN came
// with them before ServeReads began (its readiness was reported, and reset): the
// read of the bytes is short, and only TCP_INQ tells that a FIN still waits.
// Without TCP_INQ (a kernel before 4.18), only a read that finds nothing lets
// ServeReads wait, so the bytes and the FIN are read all the same.
func TestServeReadsStepSeesEOF(t *testing.T) {
	for _, inq := range []bool{true, false} {
		t.Run(fmt.Sprintf("TCP_INQ %v", inq), func(t *testing.T) {
			raw, peer := socketPair(t)
			if !inq {
				raw.(*rawSocketConn).inq.tried = true // as if the kernel had refused it
			}
			_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _ = peer.Write([]byte("bye"))
			peer.CloseWrite()
			time.Sleep(20 * time.Millisecond) // both here before the poller's reset
			var seen string
			err := serveBytes(t, raw, func(got []byte) bool { seen = string(got); return false })
			if err != nil || seen != "bye" {
				t.Fatalf("ServeReads = %v, read %q; want nil, %q", err, seen, "bye")
			}
			// A step that reads again after EOF finds EOF again, not "nothing yet"
			// (which would wait for readiness that has been reported already).
			_, err = ServeReads(raw, func() bool {
				for i := 0; i < 2; i++ {
					if _, err := raw.Read(make([]byte, 8)); err != io.EOF {
						t.Errorf("read %d after the end: %v; want io.EOF", i, err)
					}
				}
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestServeReadsRefusesWhatIsNotARawSocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	ok, err := ServeReads(a, func() bool { t.Error("step called"); return true })
	if ok || err != nil {
		t.Fatalf("ServeReads on a pipe = %v, %v; want false, nil", ok, err)
	}
	if PeerGone(a) {
		t.Fatal("PeerGone on a pipe = true")
	}
}

// Another goroutine can watch the peer while a step holds the reads (the proxy's
// client watch, during a long request): a close is found though a byte waits
// unread before it, and so is a reset.
func TestPeerGone(t *testing.T) {
	for _, reset := range []bool{false, true} {
		raw, peer := socketPair(t)
		_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = peer.Write([]byte("x"))
		wait := func(when string, want bool) {
			for i := 0; i < 500; i++ { // the peer's FIN or RST takes a moment to arrive
				if PeerGone(raw) == want {
					return
				}
				time.Sleep(time.Millisecond)
			}
			t.Errorf("reset %v, %s: PeerGone did not turn %v", reset, when, want)
		}
		err := serveBytes(t, raw, func([]byte) bool {
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, _ = peer.Write([]byte("y"))
				time.Sleep(10 * time.Millisecond)
				wait("a byte sent", false)
				if reset {
					_ = peer.SetLinger(0)
				}
				peer.Close()
				wait("the peer closed, a byte unread", true)
			}()
			<-done
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Writes during a step go straight to the socket, and one larger than the socket
// takes finishes through the poller; writes from another goroutine, during the step
// and after ServeReads has returned, land whole too.
func TestWritesDuringAndAfterServeReads(t *testing.T) {
	raw, peer := socketPair(t)
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	big := pattern(rawSocketVolume)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	other := make(chan error, 1)
	_, _ = peer.Write([]byte("go"))
	err := serveBytes(t, raw, func([]byte) bool {
		if _, err := raw.Write(big); err != nil {
			t.Errorf("Write during a step: %v", err)
		}
		go func() { // another goroutine's write, while the step still runs
			_, err := raw.Write([]byte("other"))
			other <- err
		}()
		if err := <-other; err != nil {
			t.Errorf("another goroutine's Write during a step: %v", err)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Write([]byte("after")); err != nil {
		t.Fatalf("Write after ServeReads: %v", err)
	}
	closeWrite(t, raw)
	want := append(append(append([]byte(nil), big...), "other"...), "after"...)
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("the peer read %d bytes, not the %d written in order", len(b), len(want))
	}
}
