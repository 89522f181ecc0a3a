package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

func TestStart(t *testing.T) {
	s, err := New(Options{Logger: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	if s.NeedLeaderElection() {
		t.Fatal("the proxy must run on every replica")
	}
	if err := s.Start(context.Background()); err == nil {
		t.Fatal("Start without addresses did not complain")
	}
	if err := s.Update(oneHost("x.test", nil, routetable.AffinityPolicy{})); err == nil {
		t.Fatal("Update before SetCookieKeys was accepted")
	}

	s, err = New(Options{HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Start did not return after its context ended")
	}

	// A registry that already has the proxy's metrics is an error, not a panic.
	reg := prometheus.NewRegistry()
	if _, err := New(Options{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Registerer: reg}); err == nil {
		t.Fatal("metrics registered twice without an error")
	}

	// A busy address is an error, not a hang.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, _ = New(Options{HTTPAddr: ln.Addr().String()})
	if err := s.Start(context.Background()); err == nil {
		t.Fatal("Start on a busy address succeeded")
	}
}

// TestShutdownTimeoutCutsWhatIsLeft: a request that outlives ShutdownTimeout is cut,
// and Serve says so.
func TestShutdownTimeoutCutsWhatIsLeft(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	slow := startBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	p := startProxy(t, oneHost("slow.test", backendsOf(slow), routetable.AffinityPolicy{}),
		func(o *Options) { o.ShutdownTimeout = 200 * time.Millisecond })
	result := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, p.httpURL+"/", nil)
		req.Host = "slow.test"
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		result <- err
	}()
	<-started
	begin := time.Now()
	err := p.shutdown()
	if err == nil {
		t.Error("Serve reported a clean shutdown with a request cut")
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Errorf("shutdown took %s with a 200ms timeout", d)
	}
	select {
	case <-result:
	case <-time.After(3 * time.Second):
		t.Fatal("the cut request never ended")
	}
}

// TestShutdownClosesIdleUpstreamConnections: a replica that stops leaves no
// keep-alive connection open on its pods.
func TestShutdownClosesIdleUpstreamConnections(t *testing.T) {
	closed := make(chan struct{}, 16)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			closed <- struct{}{}
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	b := &testBackend{name: "b", Server: srv}
	p := startProxy(t, oneHost("idle.test", backendsOf(b), routetable.AffinityPolicy{}))
	resp := p.get(t, "idle.test")
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	p.stop()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the pod's keep-alive connection stayed open after shutdown")
	}
}
