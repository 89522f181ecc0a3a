//go:build linux && !386 && !race

package rawsocket

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// serveBytes runs ServeReads on raw with a step that reads what there is into got,
// calling each with every chunk; each may stop the serve (true).
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
			// read empty (a short read) and before the step returns.
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

// EOF and errors reach the step through Read; the step decides to stop.
func TestServeReadsStepSeesEOF(t *testing.T) {
	raw, peer := socketPair(t)
	_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _ = peer.Write([]byte("bye"))
	peer.CloseWrite()
	var got []byte
	buf := make([]byte, 8)
	_, err := ServeReads(raw, func() bool {
		for {
			n, err := raw.Read(buf)
			got = append(got, buf[:n]...)
			switch err {
			case nil:
			case ErrWouldBlock:
				return false
			default:
				if err != io.EOF {
					t.Errorf("Read: %v; want io.EOF", err)
				}
				return true
			}
		}
	})
	if err != nil || string(got) != "bye" {
		t.Fatalf("ServeReads = %v, read %q; want nil, %q", err, got, "bye")
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
	if gone, sent := PeekWhileServing(a); gone || sent {
		t.Fatalf("PeekWhileServing on a pipe = %v, %v; want neither", gone, sent)
	}
}

// Another goroutine can watch the peer while a step holds the reads (the proxy's
// client watch, during a long request).
func TestPeekWhileServing(t *testing.T) {
	raw, peer := socketPair(t)
	_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _ = peer.Write([]byte("x"))
	report := func(when string, wantGone, wantSent bool) {
		for i := 0; i < 500; i++ { // the peer's close takes a moment to arrive
			gone, sent := PeekWhileServing(raw)
			if gone == wantGone && sent == wantSent {
				return
			}
			time.Sleep(time.Millisecond)
		}
		t.Errorf("%s: PeekWhileServing did not report gone %v, sent %v", when, wantGone, wantSent)
	}
	err := serveBytes(t, raw, func([]byte) bool {
		done := make(chan struct{})
		go func() {
			defer close(done)
			report("nothing sent", false, false)
			_, _ = peer.Write([]byte("y"))
			report("a byte sent", false, true)
			peer.Close()
			report("the peer closed", false, true) // its byte is still to be read
		}()
		<-done
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(raw); err != nil || string(b) != "y" {
		t.Fatalf("then read %q, %v", b, err)
	}
	report("all read after the close", true, false)
}
