package proxyprotocol

import (
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestListener runs a real loopback listener: the conn reports the header's client
// as RemoteAddr and reads the stream after the header; a malformed or missing header
// closes the conn and is reported; a silent client is cut at the timeout.
func TestListener(t *testing.T) {
	cases := []struct {
		name       string
		send       string
		wantRemote string // "" = the peer's own address
		wantData   string
		wantErr    bool
	}{
		{"v1", "PROXY TCP4 198.51.100.7 10.0.0.1 51000 443\r\nhello", "198.51.100.7:51000", "hello", false},
		{"v1 ipv6", "PROXY TCP6 2001:db8::7 2001:db8::1 51000 443\r\nhello", "[2001:db8::7]:51000", "hello", false},
		{"v1 mapped address is unmapped", "PROXY TCP6 ::ffff:198.51.100.7 ::1 51000 443\r\nhello", "198.51.100.7:51000", "hello", false},
		{"unknown keeps the peer", "PROXY UNKNOWN\r\nhello", "", "hello", false},
		{"v2", string(v2Header(mustAP("203.0.113.5:4000"), mustAP("10.0.0.1:80"))) + "hello", "203.0.113.5:4000", "hello", false},
		{"malformed", "PROXY TCP4 garbage\r\nhello", "", "", true},
		{"no header", "GET / HTTP/1.1\r\n\r\n", "", "", true},
		{"silent client", "", "", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			reported := make(chan error, 1)
			ln := &Listener{Listener: inner, Timeout: 300 * time.Millisecond, OnError: func(_ net.Addr, err error) { reported <- err }}
			defer ln.Close()
			client, err := net.Dial("tcp", inner.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			if tc.send != "" {
				_, _ = io.WriteString(client, tc.send)
			}
			conn, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			remote := conn.RemoteAddr().String()
			if time.Since(start) > 2*time.Second {
				t.Fatal("waited past the timeout for the header")
			}
			buf := make([]byte, 16)
			_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, readErr := conn.Read(buf)
			if tc.wantErr {
				if readErr == nil {
					t.Fatalf("read %q after a bad header", buf[:n])
				}
				select {
				case <-reported:
				default:
					t.Fatal("the bad header was not reported")
				}
				// The client sees its connection closed.
				_ = client.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := client.Read(buf); err == nil {
					t.Fatal("client connection still open")
				}
				return
			}
			if readErr != nil {
				t.Fatal(readErr)
			}
			want := tc.wantRemote
			if want == "" {
				want = client.LocalAddr().String()
			}
			if remote != want {
				t.Errorf("RemoteAddr %s, want %s", remote, want)
			}
			if got := string(buf[:n]); !strings.HasPrefix(tc.wantData, got) || got == "" {
				t.Errorf("read %q, want %q", got, tc.wantData)
			}
		})
	}
}

func mustAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
