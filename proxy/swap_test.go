package proxy

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// TestSwapUnderLoadLosesNoRequest: route tables that move endpoints in and out are
// swapped in while clients send requests; every request is answered 200 by an
// endpoint of the table it started on.
func TestSwapUnderLoadLosesNoRequest(t *testing.T) {
	bs := []*testBackend{startBackend(t, "a", nil), startBackend(t, "b", nil), startBackend(t, "c", nil)}
	tables := []*routetable.Snapshot{
		oneHost("swap.test", backendsOf(bs[0], bs[1]), cookieAffinity()),
		oneHost("swap.test", backendsOf(bs[1], bs[2]), cookieAffinity()),
		oneHost("swap.test", backendsOf(bs...), routetable.AffinityPolicy{}),
	}
	p := startProxy(t, tables[0])
	const workers, perWorker, swaps = 4, 150, 60
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()

	var wg sync.WaitGroup
	failures := make(chan string, workers*perWorker)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var cookie string
			for i := 0; i < perWorker; i++ {
				req, _ := http.NewRequest(http.MethodGet, p.httpURL+"/", nil)
				req.Host = "swap.test"
				if cookie != "" {
					req.Header.Set("Cookie", "STICKY="+cookie)
				}
				resp, err := client.Do(req)
				if err != nil {
					failures <- err.Error()
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failures <- fmt.Sprintf("status %d", resp.StatusCode)
				}
				if ck := cookieOf(resp, "STICKY"); ck != nil {
					cookie = ck.Value
				}
			}
		}()
	}
	swapErr := make(chan error, 1)
	go func() {
		for i := 1; i <= swaps; i++ {
			if err := p.Update(tables[i%len(tables)]); err != nil {
				swapErr <- err
				return
			}
		}
		swapErr <- nil
	}()
	wg.Wait()
	if err := <-swapErr; err != nil {
		t.Fatal(err)
	}
	close(failures)
	n := 0
	for f := range failures {
		if n < 5 {
			t.Error(f)
		}
		n++
	}
	if n > 0 {
		t.Fatalf("%d of %d requests failed during swaps", n, workers*perWorker)
	}
	if got := testutil.ToFloat64(p.metrics.swaps.WithLabelValues("ok")); got != swaps+1 {
		t.Errorf("swaps ok = %v, want %d", got, swaps+1)
	}
}

func TestRefusedTablesKeepTheOldOneServing(t *testing.T) {
	a := startBackend(t, "a", nil)
	good := oneHost("shop.test", backendsOf(a), routetable.AffinityPolicy{})
	missingBackend := oneHost("shop.test", backendsOf(a), routetable.AffinityPolicy{})
	missingBackend.VirtualHosts[0].Routes[0].Backend = "no-such-backend"
	duplicateEndpoint := oneHost("shop.test", append(backendsOf(a), a.endpoint()), routetable.AffinityPolicy{})
	twoPolicies := oneHost("shop.test", backendsOf(a), cookieAffinity())
	twoPolicies.Backends[0].Affinity.Header = &routetable.HeaderAffinity{Name: "X-User"}

	p := startProxy(t, good)
	for _, tc := range []struct {
		name string
		snap *routetable.Snapshot
	}{
		{"nil", nil},
		{"route to a missing backend", missingBackend},
		{"duplicate endpoint", duplicateEndpoint},
		{"two affinity modes", twoPolicies},
	} {
		if err := p.Update(tc.snap); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
		if r := p.get(t, "shop.test"); r.StatusCode != http.StatusOK {
			t.Fatalf("%s: the previous table no longer serves: %d", tc.name, r.StatusCode)
		}
	}
	if got := testutil.ToFloat64(p.metrics.swaps.WithLabelValues("rejected")); got != 4 {
		t.Errorf("rejected swaps = %v, want 4", got)
	}
}

// TestMetricSeriesFollowTheTable: a backend that leaves the route table takes its
// series with it, so label cardinality does not grow with history.
func TestMetricSeriesFollowTheTable(t *testing.T) {
	a, b := startBackend(t, "a", nil), startBackend(t, "b", nil)
	two := &routetable.Snapshot{
		VirtualHosts: []routetable.VirtualHost{
			{Host: "a.test", Routes: []routetable.Route{{Path: "/", PathType: routetable.PathPrefix, Backend: "ns/a:80"}}},
			{Host: "b.test", Routes: []routetable.Route{{Path: "/", PathType: routetable.PathPrefix, Backend: "ns/b:80"}}},
		},
		Backends: []routetable.Backend{{Name: "ns/a:80", Endpoints: backendsOf(a)}, {Name: "ns/b:80", Endpoints: backendsOf(b)}},
	}
	p := startProxy(t, two)
	p.get(t, "a.test")
	p.get(t, "b.test")
	series := func() int { return testutil.CollectAndCount(p.metrics.requests) }
	if n := series(); n != 2 {
		t.Fatalf("%d request series, want 2", n)
	}
	one := &routetable.Snapshot{VirtualHosts: two.VirtualHosts[:1], Backends: two.Backends[:1]}
	if err := p.Update(one); err != nil {
		t.Fatal(err)
	}
	if n := series(); n != 1 {
		t.Fatalf("%d request series after backend b left, want 1", n)
	}
	if n := testutil.CollectAndCount(p.metrics.decisions); n != len(p.metrics.backends["ns/a:80"].decisions) {
		t.Fatalf("%d decision series, want only backend a's", n)
	}
	if r := p.get(t, "a.test"); r.StatusCode != http.StatusOK {
		t.Fatal(r.StatusCode)
	}
	if got := testutil.ToFloat64(p.metrics.requests.WithLabelValues("a.test", "ns/a:80", "200")); got != 2 {
		t.Fatalf("a.test count %v after the swap, want 2 (kept)", got)
	}
	if got := testutil.ToFloat64(p.metrics.objects.WithLabelValues("backends")); got != 1 {
		t.Fatalf("snapshot_objects{kind=backends} = %v", got)
	}
	if testutil.ToFloat64(p.metrics.lastSwap) == 0 {
		t.Fatal("no last-swap timestamp")
	}
}
