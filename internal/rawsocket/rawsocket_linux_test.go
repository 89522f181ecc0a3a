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

	"github.com/sticky-ingress/sticky-ingress/internal/loopback"
)

// socketPair returns both ends of a loopback TCP connection, the first made raw.
func socketPair(t *testing.T) (raw net.Conn, peer *net.TCPConn) {
	t.Helper()
	c, peer := loopback.Pair(t)
	raw = Wrap(c)
	if _, ok := raw.(*rawSocketConn); !ok {
		t.Fatalf("Wrap left a TCP connection as %T", raw)
	}
	return raw, peer
}

// closeWrite half-closes c: a wrapped connection keeps TCPConn's methods.
func closeWrite(t *testing.T, c net.Conn) {
	t.Helper()
	cw, ok := c.(interface{ CloseWrite() error })
	if !ok {
		t.Fatalf("%T has no CloseWrite", c)
	}
	if err := cw.CloseWrite(); err != nil {
		t.Fatal(err)
	}
}

// pattern is n bytes that no shifted or truncated copy matches.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// More than the socket buffers hold, so that writes and reads both wait for
// readiness (EAGAIN) and resume where they stopped.
const rawSocketVolume = 8 << 20

func TestRawSocketWritesAllOfALargeBuffer(t *testing.T) {
	raw, peer := socketPair(t)
	want := pattern(rawSocketVolume)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	n, err := raw.Write(want)
	if err != nil || n != len(want) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(want))
	}
	closeWrite(t, raw)
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("peer read %d bytes, not the %d written", len(b), len(want))
	}
}

func TestRawSocketReadsToEOF(t *testing.T) {
	raw, peer := socketPair(t)
	want := pattern(rawSocketVolume)
	go func() {
		_, _ = peer.Write(want)
		peer.CloseWrite()
	}()
	got, err := io.ReadAll(raw) // ReadAll stops at io.EOF and reports it as nil
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, %v; want the %d written", len(got), err, len(want))
	}
	if n, err := raw.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("Read after the end = %d, %v; want 0, io.EOF", n, err)
	}
	if n, err := raw.Read(nil); n != 0 || err != nil {
		t.Fatalf("empty Read = %d, %v; want 0, nil", n, err)
	}
}

// The poller's errors are net.Conn's: a deadline is a timeout, a closed connection
// is net.ErrClosed, and both carry the operation's own name.
func TestRawSocketDeadlineAndClose(t *testing.T) {
	raw, _ := socketPair(t)
	_ = raw.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := raw.Read(make([]byte, 1))
	var op *net.OpError
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &op) || op.Op != "read" || !op.Timeout() {
		t.Fatalf("Read past the deadline: %v; want a read timeout", err)
	}
	_ = raw.SetReadDeadline(time.Time{})

	// A read waiting for data ends when the connection is closed under it.
	done := make(chan error, 1)
	go func() {
		_, err := raw.Read(make([]byte, 1))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	raw.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) || !errors.As(err, &op) || op.Op != "read" {
			t.Fatalf("Read on a closed connection: %v; want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return when the connection was closed")
	}
	if _, err := raw.Write([]byte("x")); !errors.Is(err, net.ErrClosed) || !errors.As(err, &op) || op.Op != "write" {
		t.Fatalf("Write on a closed connection: %v; want net.ErrClosed", err)
	}
}

// A peer that reset the connection: the errno comes back as net.Conn's would.
func TestRawSocketReset(t *testing.T) {
	raw, peer := socketPair(t)
	_ = peer.SetLinger(0)
	peer.Close()
	var err error
	for i := 0; i < 100 && err == nil; i++ { // the first write may land before the reset
		_, err = raw.Write([]byte("after the reset"))
		time.Sleep(time.Millisecond)
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "write" ||
		!errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Write to a reset connection: %v; want a write error naming ECONNRESET or EPIPE", err)
	}
}

// A read and a write at once each keep their own state (a client watch reads
// while the handler writes).
func TestRawSocketReadsAndWritesAtOnce(t *testing.T) {
	raw, peer := socketPair(t)
	want := pattern(rawSocketVolume)
	echoed := make(chan error, 1)
	go func() { // the peer echoes everything back
		_, err := io.Copy(peer, peer)
		peer.CloseWrite()
		echoed <- err
	}()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(raw)
		got <- b
	}()
	if _, err := raw.Write(want); err != nil {
		t.Fatal(err)
	}
	closeWrite(t, raw)
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("read back %d bytes, not the %d written", len(b), len(want))
	}
	if err := <-echoed; err != nil {
		t.Fatal(err)
	}
}

// Writes from several goroutines at once, as net.Conn allows: each lands whole,
// never interleaved with another, and from its own buffer.
func TestRawSocketConcurrentWritesStayWhole(t *testing.T) {
	raw, peer := socketPair(t)
	const writers, writes, size = 4, 50, 64 << 10
	done := make(chan error, writers)
	for w := 0; w < writers; w++ {
		msg := bytes.Repeat([]byte{byte('a' + w)}, size)
		go func() {
			for i := 0; i < writes; i++ {
				if _, err := raw.Write(msg); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	go func() { // not the test's goroutine: it may report, not stop the test
		for w := 0; w < writers; w++ {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
		if err := raw.(*rawSocketConn).CloseWrite(); err != nil {
			t.Error(err)
		}
	}()
	block := make([]byte, size)
	for i := 0; i < writers*writes; i++ {
		if _, err := io.ReadFull(peer, block); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if c := block[0]; c < 'a' || c >= 'a'+writers || !bytes.Equal(block, bytes.Repeat([]byte{c}, size)) {
			t.Fatalf("message %d is not one writer's whole message", i)
		}
	}
}
