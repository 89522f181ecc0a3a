package controllers

import (
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/sticky-ingress/sticky-ingress/controllers/translate"
	"github.com/sticky-ingress/sticky-ingress/proxy/affinity"
	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// Control-plane scale: 10k Ingresses, 10k Services, 100k endpoints (make bench runs
// these; they are benchmarks, not timed assertions).
const (
	scaleIngresses = 10_000
	scaleEndpoints = 10 // per Service
)

// compiled is what the proxy builds from a snapshot: the matcher and one picker per
// backend, with the registry and keys that outlive snapshots.
type compiled struct {
	matcher *routetable.Matcher
	pickers []affinity.Picker
}

type compiler struct {
	keys *affinity.KeyRing
	reg  *affinity.Registry
}

func newCompiler(b *testing.B) *compiler {
	keys, err := affinity.NewKeyRing([][]byte{[]byte("scale-benchmark-cookie-key-0123")})
	if err != nil {
		b.Fatal(err)
	}
	return &compiler{keys: keys, reg: affinity.NewRegistry(affinity.RegistryOptions{})}
}

func (c *compiler) compile(b *testing.B, s *routetable.Snapshot) compiled {
	m, err := routetable.Compile(s)
	if err != nil {
		b.Fatal(err)
	}
	p, err := affinity.CompileAll(s, c.keys, c.reg, affinity.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return compiled{matcher: m, pickers: p}
}

// heapMiB reports the live heap after a collection.
func heapMiB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

// BenchmarkFullBuild10kIngresses: translate + compile of the whole cluster, and the
// heap that the objects plus one served table hold.
func BenchmarkFullBuild10kIngresses(b *testing.B) {
	in := syntheticCluster(scaleIngresses, scaleEndpoints)
	base := heapMiB()
	var keep compiled
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A fresh compiler each time: a cold start, with no table cached.
		keep = newCompiler(b).compile(b, translate.Build(in).Snapshot)
	}
	b.StopTimer()
	// The table served (snapshot, matcher, pickers) on top of the cached objects.
	b.ReportMetric(heapMiB()-base, "MiB-served")
	b.ReportMetric(float64(len(keep.pickers)), "backends")
	runtime.KeepAlive(in)
	runtime.KeepAlive(keep)
}

// BenchmarkEndpointSliceChange: one EndpointSlice changes (an endpoint turns
// not-ready) in a cluster of 10k Ingresses; time and allocations until the new table
// is compiled, with the objects already in the cache, as in the reconciler: the
// Translator and the compiler's registry keep what they remember between changes.
func BenchmarkEndpointSliceChange(b *testing.B) {
	in := syntheticCluster(scaleIngresses, scaleEndpoints)
	c := newCompiler(b)
	tr := NewTranslator("sticky")
	c.compile(b, tr.Build(in).Snapshot)
	slice := &in.EndpointSlices[len(in.EndpointSlices)/2]
	var (
		lat  []time.Duration
		last *routetable.Snapshot
	)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		slice.Endpoints[0].Conditions.Ready = ptr.To(i%2 == 0)
		// Every write gets a new resourceVersion (the cluster's objects are at "1").
		slice.ResourceVersion = fmt.Sprint(100 + i)
		start := time.Now()
		last = tr.Build(in).Snapshot
		c.compile(b, last)
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
	// What the caches gave is what a build from scratch gives.
	if want := translate.Build(in).Snapshot; !reflect.DeepEqual(last, want) {
		b.Fatal("the incremental build differs from a build from scratch")
	}
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	b.ReportMetric(float64(sorted[len(sorted)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(sorted[len(sorted)*99/100].Microseconds())/1000, "p99-ms")
}
