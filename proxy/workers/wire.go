package workers

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

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

// wireTable is a snapshot as sent to one worker, as a difference from the table sent
// to it before: one EndpointSlice change touches one backend of thousands. What is
// unchanged is not sent, and the worker takes it from its previous table; that also
// keeps an unchanged backend's endpoints the same slice on the worker's side, which
// is what lets its proxy reuse the backend's picker (proxy.Server.Update).
type wireTable struct {
	// VirtualHosts are nil when SameVirtualHosts, and Certificates when
	// SameCertificates; Backends are in Changes.
	Snapshot         routetable.Snapshot
	SameVirtualHosts bool
	SameCertificates bool
	// Changes are the backends in order: each one either sent whole, or the
	// previous table's backend at position Previous.
	Changes []backendChange
}

type backendChange struct {
	Previous int32 // -1: Backend is sent
	Backend  routetable.Backend
}

// lastTable is what one worker was last sent (supervisor side) or last received
// (worker side): the two sides keep the same one, so that the next is a difference.
type lastTable struct {
	snap *routetable.Snapshot
}

// encode makes the wire form of snap against the last table, and makes snap the
// last table.
func (l *lastTable) encode(snap *routetable.Snapshot) *wireTable {
	t := &wireTable{Snapshot: *snap}
	t.Snapshot.Backends = nil
	var prevPos map[string]int
	if prev := l.snap; prev != nil {
		t.SameVirtualHosts = slices.EqualFunc(prev.VirtualHosts, snap.VirtualHosts, sameVirtualHost)
		t.SameCertificates = slices.EqualFunc(prev.Certificates, snap.Certificates, sameCertificate)
		prevPos = make(map[string]int, len(prev.Backends))
		for i, b := range prev.Backends {
			prevPos[b.Name] = i
		}
	}
	if t.SameVirtualHosts {
		t.Snapshot.VirtualHosts = nil
	}
	if t.SameCertificates {
		t.Snapshot.Certificates = nil
	}
	t.Changes = make([]backendChange, len(snap.Backends))
	for i, b := range snap.Backends {
		if j, ok := prevPos[b.Name]; ok && sameBackend(&l.snap.Backends[j], &b) {
			t.Changes[i] = backendChange{Previous: int32(j)}
		} else {
			t.Changes[i] = backendChange{Previous: -1, Backend: b}
		}
	}
	l.snap = snap
	return t
}

// decode restores the snapshot sent as t against the last table, and makes it the
// last table.
func (l *lastTable) decode(t *wireTable) (*routetable.Snapshot, error) {
	snap := &t.Snapshot
	if l.snap == nil && (t.SameVirtualHosts || t.SameCertificates) {
		return nil, errors.New("a difference from a table this worker never had")
	}
	if prev := l.snap; prev != nil {
		if t.SameVirtualHosts {
			snap.VirtualHosts = prev.VirtualHosts
		}
		if t.SameCertificates {
			snap.Certificates = prev.Certificates
		}
	}
	snap.Backends = make([]routetable.Backend, len(t.Changes))
	for i, c := range t.Changes {
		if c.Previous >= 0 {
			if l.snap == nil || int(c.Previous) >= len(l.snap.Backends) {
				return nil, fmt.Errorf("backend %d of a table this worker never had", c.Previous)
			}
			snap.Backends[i] = l.snap.Backends[c.Previous]
		} else {
			snap.Backends[i] = c.Backend
		}
	}
	l.snap = snap
	return snap, nil
}

func sameVirtualHost(a, b routetable.VirtualHost) bool {
	return a.Host == b.Host && slices.Equal(a.Routes, b.Routes)
}

func sameCertificate(a, b routetable.Certificate) bool {
	return a.Source == b.Source && slices.Equal(a.Hosts, b.Hosts) &&
		bytes.Equal(a.CertPEM, b.CertPEM) && bytes.Equal(a.KeyPEM, b.KeyPEM)
}

// sameBackend reports whether b can be taken from the worker's previous table: the
// same policy, and the same endpoints slice (not merely equal ones: the builder
// hands over a backend's unchanged endpoints as the slice it had, and a new slice
// is a change the worker's proxy must see).
func sameBackend(a, b *routetable.Backend) bool {
	return a.Name == b.Name && a.LoadBalance == b.LoadBalance && sameAffinity(a.Affinity, b.Affinity) &&
		sameSlice(a.Endpoints, b.Endpoints)
}

func sameAffinity(a, b routetable.AffinityPolicy) bool {
	return samePointee(a.Cookie, b.Cookie) && samePointee(a.SourceIP, b.SourceIP) && samePointee(a.Header, b.Header) &&
		a.Fallback == b.Fallback && a.BalanceFactor == b.BalanceFactor
}

// samePointee reports whether a and b are both nil or point to equal values.
func samePointee[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func sameSlice(a, b []routetable.Endpoint) bool {
	if len(a) != len(b) {
		return false
	}
	return len(a) == 0 || &a[0] == &b[0]
}
