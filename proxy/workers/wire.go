package workers

import (
	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// The supervisor and a worker talk over a Unix socket pair, one gob stream each way.
// Every request carries a sequence number and gets exactly one reply with it; a
// worker serves its requests one at a time, in order.

// request is one message from the supervisor; exactly one field is set.
type request struct {
	Seq uint64
	// Keys are the cookie keys (the first signs, all verify).
	Keys [][]byte
	// Table is a route table to swap in.
	Table *wireTable
	// Metrics asks for the worker's metric families.
	Metrics bool
}

// reply answers the request with the same Seq.
type reply struct {
	Seq uint64
	// Err is the worker's error, "" for none.
	Err string
	// Families are the worker's metric families, each a protobuf-encoded
	// io.prometheus.client.MetricFamily (Metrics requests only).
	Families [][]byte
}

// wireTable is a snapshot as sent to one worker. One EndpointSlice change touches one
// backend of thousands, so the endpoints of a backend that are the same slice as in
// the table sent before are left out and named in Unchanged; the worker takes them
// from its previous table. That also keeps them the same slice on the worker's side,
// which is what lets its proxy reuse the backend's picker (proxy.Server.Update).
type wireTable struct {
	Snapshot  routetable.Snapshot
	Unchanged []string // backend names
}

// endpointsByBackend is the endpoints of each backend of the last table sent to (or
// received by) one worker, by backend name.
type endpointsByBackend map[string][]routetable.Endpoint

// encode makes the wire form of snap for a worker whose previous table is prev, and
// records snap's endpoints in prev for the next one.
func (prev endpointsByBackend) encode(snap *routetable.Snapshot) *wireTable {
	t := &wireTable{Snapshot: *snap}
	t.Snapshot.Backends = make([]routetable.Backend, len(snap.Backends))
	for i, b := range snap.Backends {
		if old, ok := prev[b.Name]; ok && sameSlice(old, b.Endpoints) {
			t.Unchanged = append(t.Unchanged, b.Name)
			b.Endpoints = nil
		}
		t.Snapshot.Backends[i] = b
	}
	prev.record(snap)
	return t
}

// decode restores the snapshot sent as t against the worker's previous table, and
// records it in prev for the next one.
func (prev endpointsByBackend) decode(t *wireTable) *routetable.Snapshot {
	snap := &t.Snapshot
	unchanged := make(map[string]bool, len(t.Unchanged))
	for _, name := range t.Unchanged {
		unchanged[name] = true
	}
	for i := range snap.Backends {
		if b := &snap.Backends[i]; unchanged[b.Name] {
			b.Endpoints = prev[b.Name]
		}
	}
	prev.record(snap)
	return snap
}

// record makes prev the endpoints of snap's backends.
func (prev endpointsByBackend) record(snap *routetable.Snapshot) {
	clear(prev)
	for _, b := range snap.Backends {
		prev[b.Name] = b.Endpoints
	}
}

// sameSlice reports whether a and b are the same slice (not merely equal ones): the
// builder hands over a backend's unchanged endpoints as the slice it had.
func sameSlice(a, b []routetable.Endpoint) bool {
	if len(a) != len(b) {
		return false
	}
	return len(a) == 0 || &a[0] == &b[0]
}
