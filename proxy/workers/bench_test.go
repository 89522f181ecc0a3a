package workers

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// scaleTable is the control-plane benchmark's size: 10k hosts, each routing to a
// backend of 10 endpoints (100k in all).
func scaleTable() *routetable.Snapshot {
	snap := &routetable.Snapshot{}
	for i := range 10_000 {
		name := fmt.Sprintf("ns-%05d/web:80", i)
		snap.VirtualHosts = append(snap.VirtualHosts, routetable.VirtualHost{
			Host:   fmt.Sprintf("app-%05d.example.com", i),
			Routes: []routetable.Route{{Path: "/", PathType: routetable.PathPrefix, Backend: name, Source: fmt.Sprintf("ns-%05d/web", i)}},
		})
		b := routetable.Backend{Name: name, Affinity: routetable.AffinityPolicy{Cookie: &routetable.CookieAffinity{Name: "STICKY", HTTPOnly: true}}}
		for j := range 10 {
			b.Endpoints = append(b.Endpoints, routetable.Endpoint{
				ID: fmt.Sprintf("pod-uid-%05d-%02d", i, j), Address: fmt.Sprintf("10.%d.%d.%d:8080", i/256%256, i%256, j), Ready: true, Serving: true})
		}
		snap.Backends = append(snap.Backends, b)
	}
	return snap // the names are made in order: the backends are sorted by name
}

// BenchmarkEndpointSliceChangeOnTheWire: what --workers adds to one EndpointSlice
// change at 10k Ingresses / 100k endpoints, besides the worker's own compile (the
// validator's, BenchmarkEndpointSliceChange in controllers): the difference, gob both
// ways, and restoring the table on the worker's side. Every change is a new build
// of the hosts, as the translator makes one. The first table, which a worker gets
// whole, is reported once.
func BenchmarkEndpointSliceChangeOnTheWire(b *testing.B) {
	snap := scaleTable()
	var stream bytes.Buffer
	enc, dec := gob.NewEncoder(&stream), gob.NewDecoder(&stream)
	var sent, received lastTable
	send := func(s *routetable.Snapshot) int {
		if err := enc.Encode(&request{Table: sent.encode(s)}); err != nil {
			b.Fatal(err)
		}
		n := stream.Len()
		var req request
		if err := dec.Decode(&req); err != nil {
			b.Fatal(err)
		}
		if _, err := received.decode(req.Table); err != nil {
			b.Fatal(err)
		}
		return n
	}
	start := time.Now()
	full := send(snap)
	first := time.Since(start)

	var lat []time.Duration
	changed := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		next := *snap
		next.VirtualHosts = slices.Clone(snap.VirtualHosts)
		next.Backends = slices.Clone(snap.Backends)
		k := len(next.Backends) / 2
		eps := slices.Clone(next.Backends[k].Endpoints)
		eps[0].Ready = i%2 == 0
		next.Backends[k].Endpoints = eps
		snap = &next
		t := time.Now()
		changed = send(snap)
		lat = append(lat, time.Since(t))
	}
	b.StopTimer()
	b.ReportMetric(float64(first.Microseconds())/1000, "first-table-ms")
	b.ReportMetric(float64(full)/(1<<20), "first-table-MiB")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(changed)/(1<<20), "change-MiB")
}
