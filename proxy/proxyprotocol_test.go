package proxy

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

func TestProxyProtocolSetsTheClientAddress(t *testing.T) {
	b := startBackend(t, "a", nil)
	p := startProxy(t, oneHost("pp.test", backendsOf(b), routetable.AffinityPolicy{SourceIP: &routetable.SourceIPAffinity{}}),
		func(o *Options) { o.ProxyProtocol = true; o.ReadHeaderTimeout = time.Second })
	addr := strings.TrimPrefix(p.httpURL, "http://")

	send := func(header []byte) (*http.Response, error) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
		_, _ = conn.Write(header)
		fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: pp.test\r\nConnection: close\r\n\r\n")
		return http.ReadResponse(bufio.NewReader(conn), nil)
	}
	v2 := append([]byte("\r\n\r\n\x00\r\nQUIT\n"), 0x21, 0x11, 0, 12, 203, 0, 113, 5, 127, 0, 0, 1)
	v2 = binary.BigEndian.AppendUint16(v2, 4000)
	v2 = binary.BigEndian.AppendUint16(v2, 80)
	for _, tc := range []struct {
		name   string
		header []byte
		want   string
	}{
		{"v1", []byte("PROXY TCP4 198.51.100.7 127.0.0.1 51000 80\r\n"), "198.51.100.7"},
		{"v2", v2, "203.0.113.5"},
		{"v1 unknown keeps the peer", []byte("PROXY UNKNOWN\r\n"), "127.0.0.1"},
	} {
		resp, err := send(tc.header)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Seen-Real-IP"); got != tc.want {
			t.Errorf("%s: client %q, want %q", tc.name, got, tc.want)
		}
	}
	if resp, err := send([]byte("PROXY TCP4 garbage\r\n")); err == nil {
		resp.Body.Close()
		t.Fatalf("a malformed PROXY header was served: %d", resp.StatusCode)
	}
}

// TestProxyProtocolBeforeTLS: the PROXY header comes before the TLS handshake, and
// the client it names is the one the request is attributed to.
func TestProxyProtocolBeforeTLS(t *testing.T) {
	b := startBackend(t, "a", nil)
	p := startProxy(t, oneHost("pp.test", backendsOf(b), routetable.AffinityPolicy{}),
		func(o *Options) { o.ProxyProtocol = true; o.ReadHeaderTimeout = time.Second })
	raw, err := net.Dial("tcp", p.httpsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(raw, "PROXY TCP4 198.51.100.9 127.0.0.1 51000 443\r\n")
	conn := tls.Client(raw, &tls.Config{ServerName: "pp.test", InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: pp.test\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Seen-Real-IP"); got != "198.51.100.9" || resp.Header.Get("X-Seen-Proto") != "https" {
		t.Fatalf("client %q proto %q", got, resp.Header.Get("X-Seen-Proto"))
	}
}
