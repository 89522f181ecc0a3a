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

func TestTableDifferenceSendsOnlyWhatChangedAndTheWorkerKeepsTheRestAsItWas(t *testing.T) {
	var stream bytes.Buffer
	enc, dec := gob.NewEncoder(&stream), gob.NewDecoder(&stream)
	var sent, received lastTable
	receive := func(w *wireTable) *routetable.Snapshot {
		t.Helper()
		snap, err := received.decode(overGob(t, enc, dec, w))
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}

	cart := routetable.Backend{Name: "shop/cart:80", Endpoints: endpoints("10.0.0.1:80", "10.0.0.2:80"),
		Affinity: routetable.AffinityPolicy{SourceIP: &routetable.SourceIPAffinity{}}}
	pay := routetable.Backend{Name: "shop/pay:80", Endpoints: endpoints("10.0.1.1:80"),
		Affinity: routetable.AffinityPolicy{Cookie: &routetable.CookieAffinity{Name: "S", HTTPOnly: true}}}
	first := tableOf(cart, pay)
	wire := sent.encode(first)
	if wire.SameVirtualHosts || wire.SameCertificates || wire.Changes[0].Previous != -1 || wire.Changes[1].Previous != -1 {
		t.Fatalf("first table: %+v; want everything sent (the worker has nothing yet)", wire)
	}
	got1 := receive(wire)
	if !reflect.DeepEqual(got1, first) {
		t.Fatalf("first table arrived as\n%+v\nwant\n%+v", got1, first)
	}

	// One EndpointSlice change: pay's endpoints are a new slice; cart, the hosts
	// and the certificates are as they were (equal copies, as a new build makes them).
	pay.Endpoints = endpoints("10.0.1.1:80", "10.0.1.2:80")
	second := tableOf(cart, pay)
	wire = sent.encode(second)
	if !wire.SameVirtualHosts || !wire.SameCertificates || wire.Snapshot.VirtualHosts != nil || wire.Snapshot.Certificates != nil {
		t.Errorf("second table: hosts or certificates sent again: %+v", wire)
	}
	if wire.Changes[0].Previous != 0 || wire.Changes[1].Previous != -1 {
		t.Errorf("second table: changes %+v; want cart from the previous table, pay sent", wire.Changes)
	}
	if second.Backends[0].Endpoints == nil || second.VirtualHosts == nil {
		t.Fatal("encode changed the snapshot it was given")
	}
	got2 := receive(wire)
	if !reflect.DeepEqual(got2, second) {
		t.Fatalf("second table arrived as\n%+v\nwant\n%+v", got2, second)
	}
	if !sameSlice(got2.Backends[0].Endpoints, got1.Backends[0].Endpoints) {
		t.Error("cart's endpoints are a new slice on the worker's side: its proxy would rebuild the picker")
	}
	if sameSlice(got2.Backends[1].Endpoints, got1.Backends[1].Endpoints) {
		t.Error("pay's endpoints are the old slice on the worker's side")
	}

	// A policy change is a change even with the same endpoints; a backend that
	// moves in the sorted list is found by name.
	cart.Affinity = routetable.AffinityPolicy{SourceIP: &routetable.SourceIPAffinity{IPv4PrefixLength: 24}}
	api := routetable.Backend{Name: "shop/api:80", Endpoints: endpoints("10.0.2.1:80")}
	third := tableOf(api, cart, pay)
	wire = sent.encode(third)
	if c := wire.Changes; c[0].Previous != -1 || c[1].Previous != -1 || c[2].Previous != 1 {
		t.Errorf("third table: changes %+v; want api and cart sent, pay from position 1", c)
	}
	if got3 := receive(wire); !reflect.DeepEqual(got3, third) {
		t.Fatalf("third table arrived as\n%+v\nwant\n%+v", got3, third)
	}

	// A restarted worker starts from nothing: it gets everything, and a difference
	// it cannot apply is an error, not a guess.
	var fresh lastTable
	if wire := fresh.encode(third); wire.SameVirtualHosts || wire.Changes[2].Previous != -1 {
		t.Errorf("table for a new worker: %+v; want everything sent", wire)
	}
	if _, err := (&lastTable{}).decode(sent.encode(third)); err == nil {
		t.Error("a worker with no table applied a difference")
	}
}

// sameBackend must look at every field of a backend and its policy: a field it does
// not compare would let a change stay on the supervisor's side.
func TestSameBackendComparesEveryField(t *testing.T) {
	for typ, compared := range map[reflect.Type]int{
		reflect.TypeFor[routetable.Backend]():        4, // sameBackend
		reflect.TypeFor[routetable.AffinityPolicy](): 5, // sameAffinity
		reflect.TypeFor[routetable.VirtualHost]():    2, // sameVirtualHost
		reflect.TypeFor[routetable.Certificate]():    4, // sameCertificate
	} {
		if typ.NumField() != compared {
			t.Errorf("%s has %d fields, the comparison in wire.go covers %d: compare the new ones", typ, typ.NumField(), compared)
		}
	}
}
