package proxy

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// selfSigned makes a certificate for names, as a TLS Secret would hold it.
func selfSigned(t *testing.T, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func TestTLSBySNIWithDefaultCertificateAndHTTP2(t *testing.T) {
	b := startBackend(t, "a", nil)
	snap := oneHost("secure.test", backendsOf(b), cookieAffinity())
	snap.VirtualHosts = append(snap.VirtualHosts, routetable.VirtualHost{Host: "*.wild.test", Routes: snap.VirtualHosts[0].Routes})
	certPEM, keyPEM := selfSigned(t, "secure.test")
	wildPEM, wildKey := selfSigned(t, "*.wild.test")
	snap.Certificates = []routetable.Certificate{
		{Hosts: []string{"secure.test"}, Source: "ns/secure", CertPEM: certPEM, KeyPEM: keyPEM},
		{Hosts: []string{"*.wild.test"}, Source: "ns/wild", CertPEM: wildPEM, KeyPEM: wildKey},
	}
	p := startProxy(t, snap)

	for _, tc := range []struct{ sni, wantCN string }{
		{"secure.test", "secure.test"},
		{"a.wild.test", "*.wild.test"},
		{"unknown.test", "sticky-ingress default certificate"},
	} {
		conn, err := tls.Dial("tcp", p.httpsAddr, &tls.Config{ServerName: tc.sni, InsecureSkipVerify: true, NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatalf("%s: %v", tc.sni, err)
		}
		state := conn.ConnectionState()
		conn.Close()
		if cn := state.PeerCertificates[0].Subject.CommonName; cn != tc.wantCN {
			t.Errorf("SNI %s got certificate %q, want %q", tc.sni, cn, tc.wantCN)
		}
		if state.NegotiatedProtocol != "h2" {
			t.Errorf("SNI %s negotiated %q, want h2", tc.sni, state.NegotiatedProtocol)
		}
	}

	// A request over HTTP/2 gets a Secure cookie (Secure=Auto under TLS).
	client := &http.Client{Transport: &http2.Transport{TLSClientConfig: &tls.Config{ServerName: "secure.test", InsecureSkipVerify: true}}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, "https://"+p.httpsAddr+"/", nil)
	req.Host = "secure.test"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Fatalf("HTTP/%d status %d", resp.ProtoMajor, resp.StatusCode)
	}
	if ck := cookieOf(resp, "STICKY"); ck == nil || !ck.Secure {
		t.Fatalf("cookie over TLS not Secure: %v", resp.Header["Set-Cookie"])
	}
	if resp.Header.Get("X-Seen-Proto") != "https" {
		t.Errorf("X-Forwarded-Proto %q", resp.Header.Get("X-Seen-Proto"))
	}
}

// TestCertificatesFollowTheTable: a renewed certificate is served from the swap on;
// a client without SNI and a name two labels under a wildcard get the default one.
func TestCertificatesFollowTheTable(t *testing.T) {
	b := startBackend(t, "a", nil)
	snap := func(cn string) *routetable.Snapshot {
		s := oneHost("secure.test", backendsOf(b), routetable.AffinityPolicy{})
		certPEM, keyPEM := selfSigned(t, cn, "secure.test", "*.wild.test")
		s.Certificates = []routetable.Certificate{{Hosts: []string{"*.wild.test", "secure.test"}, Source: "ns/secure", CertPEM: certPEM, KeyPEM: keyPEM}}
		return s
	}
	p := startProxy(t, snap("first"))
	cnFor := func(sni string) string {
		conn, err := tls.Dial("tcp", p.httpsAddr, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("%q: %v", sni, err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	const dflt = "sticky-ingress default certificate"
	for sni, want := range map[string]string{"secure.test": "first", "SECURE.test": "first", "x.wild.test": "first", "x.y.wild.test": dflt, "": dflt} {
		if got := cnFor(sni); got != want {
			t.Errorf("SNI %q: certificate %q, want %q", sni, got, want)
		}
	}
	if err := p.Update(snap("renewed")); err != nil {
		t.Fatal(err)
	}
	if got := cnFor("secure.test"); got != "renewed" {
		t.Fatalf("after the swap: %q", got)
	}
	broken := snap("broken")
	broken.Certificates[0].KeyPEM = []byte("not a key")
	if err := p.Update(broken); err != nil {
		t.Fatalf("a table with an unusable certificate was refused: %v", err)
	}
	if got := cnFor("secure.test"); got != dflt {
		t.Fatalf("unusable certificate: %q served, want the default", got)
	}
}

// TestTLSHTTP1FastAndHandedOff: an HTTP/1.1 client over TLS is served by the fast
// server, and the requests on the same connection that go to net/http after it
// (Pragma, Expect: 100-continue) still count as TLS: X-Forwarded-Proto https and a
// Secure cookie for all, though net/http then sees plain bytes (exchange.overTLS).
func TestTLSHTTP1FastAndHandedOff(t *testing.T) {
	b := startBackend(t, "a", nil)
	snap := oneHost("secure.test", backendsOf(b), cookieAffinity())
	certPEM, keyPEM := selfSigned(t, "secure.test")
	snap.Certificates = []routetable.Certificate{{Hosts: []string{"secure.test"}, Source: "ns/secure", CertPEM: certPEM, KeyPEM: keyPEM}}
	p := startProxy(t, snap)

	conn, err := tls.Dial("tcp", p.httpsAddr, &tls.Config{ServerName: "secure.test", InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if proto := conn.ConnectionState().NegotiatedProtocol; proto != "http/1.1" {
		t.Fatalf("negotiated %q", proto)
	}
	br := bufio.NewReader(conn)
	for i, raw := range []string{
		"GET / HTTP/1.1\r\nHost: secure.test\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: secure.test\r\nPragma: no-cache\r\n\r\n", // Pragma is net/http's to rewrite
		"POST / HTTP/1.1\r\nHost: secure.test\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
	} {
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(conn, raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		for err == nil && resp.StatusCode == http.StatusContinue {
			resp, err = http.ReadResponse(br, nil)
		}
		if err != nil {
			t.Fatalf("request %d %q: %v", i, raw, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%q: status %d", raw, resp.StatusCode)
		}
		if got := resp.Header.Get("X-Seen-Proto"); got != "https" {
			t.Errorf("%q: X-Forwarded-Proto %q, want https", raw, got)
		}
		if ck := cookieOf(resp, "STICKY"); ck == nil || !ck.Secure {
			t.Errorf("%q: cookie over TLS not Secure: %v", raw, resp.Header["Set-Cookie"])
		}
	}
}

// TestTLSSlowRequestsKeepTheConnection: requests that outlast clientWatchAfter start
// the client watch over TLS, and breaking its read off leaves the TLS connection
// usable: a timeout is not a TLS error.
func TestTLSSlowRequestsKeepTheConnection(t *testing.T) {
	b := startBackend(t, "slow", func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(clientWatchAfter + clientWatchTick + 50*time.Millisecond)
		_, _ = io.WriteString(w, "slow")
	})
	p := startProxy(t, oneHost("secure.test", backendsOf(b), routetable.AffinityPolicy{}))
	conn, err := tls.Dial("tcp", p.httpsAddr, &tls.Config{ServerName: "secure.test", InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	for i := 0; i < 3; i++ {
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: secure.test\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "slow" || resp.Close {
			t.Fatalf("request %d: status %d body %q close %v", i, resp.StatusCode, body, resp.Close)
		}
	}
}

// A TLS client that leaves during a long request sends close_notify and then its
// FIN: the request to the pod is broken off all the same (the watch of a request
// served inline asks for the socket's state, which the unread alert does not hide).
func TestTLSClientLeavingBreaksOffTheRequest(t *testing.T) {
	released := make(chan time.Time, 1)
	b := startBackend(t, "wait", func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			released <- time.Now()
		case <-time.After(5 * time.Second):
			released <- time.Time{}
		}
	})
	p := startProxy(t, oneHost("secure.test", backendsOf(b), routetable.AffinityPolicy{}))
	conn, err := tls.Dial("tcp", p.httpsAddr, &tls.Config{ServerName: "secure.test", InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: secure.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	left := time.Now()
	conn.Close()
	if at := <-released; at.IsZero() || at.Sub(left) > time.Second {
		t.Fatalf("the pod's request was released %v after the client left; want within a second", at.Sub(left))
	}
}
