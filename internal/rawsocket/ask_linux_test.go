//go:build linux && !386 && !race

package rawsocket

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// answer reads want from peer and then writes reply, reporting what went wrong.
func answer(peer net.Conn, want, reply []byte) <-chan error {
	done := make(chan error, 1)
	go func() {
		got := make([]byte, len(want))
		if _, err := io.ReadFull(peer, got); err != nil {
			done <- err
			return
		}
		if !bytes.Equal(got, want) {
			done <- errors.New("the peer did not get the bytes asked")
			return
		}
		_, err := peer.Write(reply)
		done <- err
	}()
	return done
}

// expectAnswer reads want from raw, then takes the peer's report (answer's).
func expectAnswer(t *testing.T, raw net.Conn, want string, peer <-chan error) {
	t.Helper()
	buf := make([]byte, len(want))
	if _, err := io.ReadFull(raw, buf); err != nil || string(buf) != want {
		t.Fatalf("read %q, %v; want %q", buf, err, want)
	}
	if err := <-peer; err != nil {
		t.Fatal(err)
	}
}

func TestWriteOnNextReadSendsAndReadsTheAnswer(t *testing.T) {
	raw, peer := socketPair(t)
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	for _, req := range []string{"GET / HTTP/1.1\r\n\r\n", "GET /again HTTP/1.1\r\n\r\n"} {
		done := answer(peer, []byte(req), []byte("answer"))
		raw.(*rawSocketConn).WriteOnNextRead([]byte(req))
		expectAnswer(t, raw, "answer", done)
	}
	// The connection goes on as an ordinary one.
	done := answer(peer, []byte("plain"), []byte("reply"))
	if _, err := raw.Write([]byte("plain")); err != nil {
		t.Fatal(err)
	}
	expectAnswer(t, raw, "reply", done)
}

// More than the socket buffers take: the send stops at EAGAIN, Write finishes it,
// and the answer is read as usual.
func TestWriteOnNextReadLargerThanTheSocketTakes(t *testing.T) {
	raw, peer := socketPair(t)
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	req := pattern(rawSocketVolume)
	done := answer(peer, req, []byte("ok"))
	raw.(*rawSocketConn).WriteOnNextRead(req)
	expectAnswer(t, raw, "ok", done)
}

// A peer that reset the connection: the failed send is a write error, or the
// read that waits for the answer sees the reset; either way Read returns.
func TestWriteOnNextReadToAResetPeer(t *testing.T) {
	raw, peer := socketPair(t)
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	_ = peer.SetLinger(0)
	peer.Close()
	time.Sleep(10 * time.Millisecond)
	raw.(*rawSocketConn).WriteOnNextRead([]byte("GET / HTTP/1.1\r\n\r\n"))
	_, err := raw.Read(make([]byte, 16))
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "write" && op.Op != "read" ||
		!errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Read after asking a reset peer: %v; want ECONNRESET or EPIPE", err)
	}
}

// A deadline that has passed ends the Read before anything is sent.
func TestWriteOnNextReadPastTheDeadline(t *testing.T) {
	raw, peer := socketPair(t)
	_ = raw.SetReadDeadline(time.Now().Add(-time.Second))
	raw.(*rawSocketConn).WriteOnNextRead([]byte("never sent"))
	if _, err := raw.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline: %v; want a timeout", err)
	}
	_ = peer.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := peer.Read(make([]byte, 16)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the peer read %d bytes (%v); want none", n, err)
	}
}
