package workers

import (
	"bytes"
	"encoding/gob"
	"reflect"
	"testing"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

func tableOf(backends ...routetable.Backend) *routetable.Snapshot {
	return &routetable.Snapshot{
		VirtualHosts: []routetable.VirtualHost{{Host: "shop.example", Routes: []routetable.Route{{Path: "/", PathType: routetable.PathPrefix, Backend: backends[0].Name}}}},
		Backends:     backends,
		Certificates: []routetable.Certificate{{Hosts: []string{"shop.example"}, Source: "shop/tls", CertPEM: []byte("cert"), KeyPEM: []byte("key")}},
	}
}

func endpoints(addrs ...string) []routetable.Endpoint {
	var out []routetable.Endpoint
	for _, a := range addrs {
		out = append(out, routetable.Endpoint{ID: "uid-" + a, Address: a, Ready: true, Serving: true})
	}
	return out
}

// overGob sends t through a gob stream, as the control socket does.
func overGob(t *testing.T, enc *gob.Encoder, dec *gob.Decoder, table *wireTable) *wireTable {
	t.Helper()
	if err := enc.Encode(&request{Seq: 1, Table: table}); err != nil {
		t.Fatal(err)
	}
	var req request
	if err := dec.Decode(&req); err != nil {
		t.Fatal(err)
	}
	return req.Table
}

func TestTableDeltaSendsOnlyChangedEndpointsAndKeepsTheRestTheWorkersSlices(t *testing.T) {
	var stream bytes.Buffer
	enc, dec := gob.NewEncoder(&stream), gob.NewDecoder(&stream)
	sent, received := endpointsByBackend{}, endpointsByBackend{}

	cart := routetable.Backend{Name: "shop/cart:80", Endpoints: endpoints("10.0.0.1:80", "10.0.0.2:80"),
		Affinity: routetable.AffinityPolicy{SourceIP: &routetable.SourceIPAffinity{}}}
	pay := routetable.Backend{Name: "shop/pay:80", Endpoints: endpoints("10.0.1.1:80"),
		Affinity: routetable.AffinityPolicy{Cookie: &routetable.CookieAffinity{Name: "S", HTTPOnly: true}}}
	first := tableOf(cart, pay)
	wire := sent.encode(first)
	if len(wire.Unchanged) != 0 {
		t.Fatalf("first table: unchanged %v, want none (the worker has nothing yet)", wire.Unchanged)
	}
	got1 := received.decode(overGob(t, enc, dec, wire))
	if !reflect.DeepEqual(got1, first) {
		t.Fatalf("first table arrived as\n%+v\nwant\n%+v", got1, first)
	}

	// One EndpointSlice change: pay's endpoints are a new slice, cart's the same one.
	pay.Endpoints = endpoints("10.0.1.1:80", "10.0.1.2:80")
	second := tableOf(cart, pay)
	wire = sent.encode(second)
	if !reflect.DeepEqual(wire.Unchanged, []string{"shop/cart:80"}) || wire.Snapshot.Backends[0].Endpoints != nil {
		t.Fatalf("second table: unchanged %v, cart's endpoints %v; want cart's left out", wire.Unchanged, wire.Snapshot.Backends[0].Endpoints)
	}
	if second.Backends[0].Endpoints == nil {
		t.Fatal("encode changed the snapshot it was given")
	}
	got2 := received.decode(overGob(t, enc, dec, wire))
	if !reflect.DeepEqual(got2, second) {
		t.Fatalf("second table arrived as\n%+v\nwant\n%+v", got2, second)
	}
	if !sameSlice(got2.Backends[0].Endpoints, got1.Backends[0].Endpoints) {
		t.Error("cart's endpoints are a new slice on the worker's side: its proxy would rebuild the picker")
	}
	if sameSlice(got2.Backends[1].Endpoints, got1.Backends[1].Endpoints) {
		t.Error("pay's endpoints are the old slice on the worker's side")
	}

	// A restarted worker starts from nothing: it gets everything.
	if wire := (endpointsByBackend{}).encode(second); len(wire.Unchanged) != 0 {
		t.Errorf("table for a new worker: unchanged %v, want none", wire.Unchanged)
	}
}
