package workers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sticky-ingress/sticky-ingress/proxy"
	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// TestMain makes the test binary a worker when a Supervisor starts it as one.
func TestMain(m *testing.M) {
	if IsWorker() {
		reg := prometheus.NewRegistry()
		srv, err := proxy.New(proxy.Options{Registerer: reg, ShutdownTimeout: 5 * time.Second})
		if err == nil {
			err = Serve(srv, reg)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// backend is a real HTTP server on loopback that names itself.
func backend(t *testing.T, name string) routetable.Endpoint {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, name) }))
	t.Cleanup(s.Close)
	return routetable.Endpoint{ID: "uid-" + name, Address: strings.TrimPrefix(s.URL, "http://"), Ready: true, Serving: true}
}

func cookieTable(eps ...routetable.Endpoint) *routetable.Snapshot {
	return &routetable.Snapshot{
		VirtualHosts: []routetable.VirtualHost{{Host: "shop.example", Routes: []routetable.Route{{Path: "/", PathType: routetable.PathPrefix, Backend: "shop/cart:80"}}}},
		Backends: []routetable.Backend{{Name: "shop/cart:80", Endpoints: eps,
			Affinity: routetable.AffinityPolicy{Cookie: &routetable.CookieAffinity{Name: "STICKY", HTTPOnly: true}}}},
	}
}

// started runs a supervisor of n workers (this test binary) on a loopback port and
// returns it with its HTTP address and the registry its validator reports to.
func started(t *testing.T, n int) (*Supervisor, string, *prometheus.Registry) {
	t.Helper()
	return startedWith(t, n, Options{})
}

// startedWith is started with the options of opts that started does not set.
func startedWith(t *testing.T, n int, opts Options) (*Supervisor, string, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	validator, err := proxy.New(proxy.Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	opts.Workers, opts.HTTPAddr, opts.Validator, opts.Registerer = n, "127.0.0.1:0", validator, reg
	opts.Command = func() *exec.Cmd { return exec.Command(os.Args[0]) }
	opts.ShutdownTimeout = 5 * time.Second
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetCookieKeys([][]byte{[]byte("0123456789abcdef0123456789abcdef")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		for _, w := range s.workers {
			if w.running() {
				t.Errorf("worker %d still running after Start returned", w.index)
			}
		}
	})
	addrs, err := s.Addrs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s, "http://" + addrs[0].String() + "/", reg
}

// waitReady waits, boundedly, for every worker to serve a table.
func waitReady(t *testing.T, s *Supervisor) {
	t.Helper()
	for range 500 {
		if s.Ready() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the workers did not become ready within 5 s")
}

// get sends one request on a new connection, with cookie if not empty, and returns
// the body and the Set-Cookie header.
func get(t *testing.T, url, cookie string) (body, setCookie string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = "shop.example"
	req.Close = true
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	return string(b), res.Header.Get("Set-Cookie")
}

func TestWorkersServeTheTableAndHonourEachOthersCookies(t *testing.T) {
	s, url, reg := started(t, 2)
	a, b := backend(t, "a"), backend(t, "b")
	if err := s.Update(cookieTable(a, b)); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s)

	// New connections spread over both workers; a cookie one issued pins the
	// session in the other too.
	pinned, setCookie := get(t, url, "")
	cookie, _, _ := strings.Cut(setCookie, ";")
	const requests = 40
	for range requests {
		if got, _ := get(t, url, cookie); got != pinned {
			t.Fatalf("cookie %s pinned to %s, then served by %s", cookie, pinned, got)
		}
	}
	for _, w := range s.workers {
		fs, err := w.families()
		if err != nil {
			t.Fatal(err)
		}
		served := 0.0
		for _, f := range fs {
			if f.GetName() == "sticky_ingress_requests_total" {
				for _, m := range f.Metric {
					served += m.GetCounter().GetValue()
				}
			}
		}
		if served == 0 {
			t.Errorf("worker %d served none of %d connections: SO_REUSEPORT did not spread them", w.index, requests+1)
		}
	}

	// /metrics: the workers' traffic summed, the table's series once.
	want := fmt.Sprintf(`
# HELP sticky_ingress_requests_total Requests served, by virtual host pattern ("*" for rules without a host, "(default)" for the default backend), backend and status code.
# TYPE sticky_ingress_requests_total counter
sticky_ingress_requests_total{backend="shop/cart:80",code="200",host="shop.example"} %d
# HELP sticky_ingress_snapshot_swaps_total Route tables offered to the proxy, by result (ok, rejected).
# TYPE sticky_ingress_snapshot_swaps_total counter
sticky_ingress_snapshot_swaps_total{result="ok"} 1
sticky_ingress_snapshot_swaps_total{result="rejected"} 0
`, requests+1)
	if err := testutil.GatherAndCompare(s.Gatherer(reg), strings.NewReader(want),
		"sticky_ingress_requests_total", "sticky_ingress_snapshot_swaps_total"); err != nil {
		t.Error(err)
	}
}

func TestARefusedTableKeepsTheLastGoodOneServingAndAChangeReachesEveryWorker(t *testing.T) {
	s, url, _ := started(t, 2)
	a, b := backend(t, "a"), backend(t, "b")
	if err := s.Update(cookieTable(a)); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s)

	bad := cookieTable(b)
	bad.VirtualHosts[0].Routes[0].Backend = "shop/missing:80"
	if err := s.Update(bad); err == nil {
		t.Fatal("a table routing to a backend it does not have was accepted")
	}
	for range 10 {
		if got, _ := get(t, url, ""); got != "a" {
			t.Fatalf("after the refused table, served by %q; want the last good table's a", got)
		}
	}

	// An EndpointSlice change: a goes, b comes. Every worker has it once Update returns.
	if err := s.Update(cookieTable(b)); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if got, _ := get(t, url, ""); got != "b" {
			t.Fatalf("after the change, served by %q; want b", got)
		}
	}
}

func TestAWorkerThatDiesIsRestartedWithTheCurrentTableAndKeys(t *testing.T) {
	s, url, _ := started(t, 2)
	a := backend(t, "a")
	if err := s.Update(cookieTable(a)); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s)
	_, setCookie := get(t, url, "")
	cookie, _, _ := strings.Cut(setCookie, ";")

	w := s.workers[0]
	pidOf := func() int {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.cmd.Process.Pid
	}
	pid := pidOf()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; pidOf() == pid || !s.Ready(); i++ {
		if i == 500 {
			t.Fatal("the killed worker was not back and ready within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := testutil.ToFloat64(s.restarts); got != 1 {
		t.Errorf("sticky_ingress_worker_restarts_total = %v, want 1", got)
	}
	// Every connection is served again, whichever worker takes it, and the cookie
	// still verifies: the new worker got the keys.
	for range 20 {
		if got, set := get(t, url, cookie); got != "a" || set != "" {
			t.Fatalf("after the restart: served by %q, Set-Cookie %q; want a, none", got, set)
		}
	}
}
