// Package clientip finds the address of the client behind a request: the connection's
// peer, or, only when that peer is a trusted proxy, the address the proxy chain
// reports in X-Forwarded-For or X-Real-IP. Anyone else's forwarding headers are
// ignored, so a client cannot choose the address that source-IP affinity hashes.
//
// PROXY protocol needs nothing here: the listener rewrites the connection's remote
// address, which is then the peer this package starts from.
package clientip

import (
	"net/http"
	"net/netip"
	"strings"
)

// Resolver resolves client addresses. The zero value trusts nobody. It is immutable
// and safe for concurrent use; Resolve allocates nothing.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a resolver that believes the forwarding headers of peers in trusted.
func New(trusted []netip.Prefix) Resolver {
	ps := make([]netip.Prefix, 0, len(trusted))
	for _, p := range trusted {
		if p.IsValid() {
			// An IPv4 prefix must also cover IPv4-mapped IPv6 peers: addresses are
			// unmapped before the comparison.
			ps = append(ps, p.Masked())
		}
	}
	return Resolver{trusted: ps}
}

// TrustsAnyone reports whether any proxy is trusted.
func (r Resolver) TrustsAnyone() bool { return len(r.trusted) > 0 }

// Trusted reports whether a is in a trusted range.
func (r Resolver) Trusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Peer parses the address of http.Request.RemoteAddr ("ip:port"). It returns the
// zero Addr when RemoteAddr is not an IP address (e.g. a Unix socket).
func Peer(remoteAddr string) netip.Addr {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().WithZone("").Unmap()
}

// TrustedPeer reports whether the request's connection comes from a trusted proxy.
func (r Resolver) TrustedPeer(req *http.Request) bool {
	return len(r.trusted) > 0 && r.Trusted(Peer(req.RemoteAddr))
}

// Canonical header keys, so that lookups skip canonicalisation (which allocates for
// "X-Real-IP").
const (
	headerXFF    = "X-Forwarded-For"
	headerRealIP = "X-Real-Ip"
)

// Resolve returns the client's address for a request. From a trusted peer, it walks
// X-Forwarded-For from the right, where each proxy appended the address it saw, and
// returns the first address not in a trusted range: the rightmost one that no trusted
// proxy vouches for is the furthest a client cannot have forged. Without such an
// entry it uses X-Real-IP, then the peer. A garbled chain is not believed: the peer
// stands. The zero Addr means the peer is not an IP address.
func (r Resolver) Resolve(req *http.Request) netip.Addr {
	return r.resolve(Peer(req.RemoteAddr), req.Header)
}

// ResolveFrom is Resolve for a peer address and request headers.
func (r Resolver) ResolveFrom(peer netip.Addr, h http.Header) netip.Addr {
	return r.resolve(peer.Unmap(), h)
}

func (r Resolver) resolve(peer netip.Addr, h http.Header) netip.Addr {
	if len(r.trusted) == 0 || !r.Trusted(peer) {
		return peer
	}
	xff := h[headerXFF]
	for i := len(xff) - 1; i >= 0; i-- {
		list := xff[i]
		for list != "" {
			hop := list
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				hop, list = list[j+1:], list[:j]
			} else {
				list = ""
			}
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue // "a, , b" and a trailing comma: tolerated, as nginx does
			}
			a, ok := parseHop(hop)
			if !ok {
				return peer
			}
			if !r.Trusted(a) {
				return a
			}
		}
	}
	if v := h[headerRealIP]; len(v) > 0 {
		if a, ok := parseHop(strings.TrimSpace(v[0])); ok {
			return a
		}
	}
	return peer
}

// parseHop reads one forwarded address: a bare IP, or "ip:port" / "[ipv6]:port" as
// some proxies write it. Zones are dropped: they mean nothing beyond the host that
// wrote them, and they would split one client into several hash keys.
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone("").Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap(), true
	}
	return netip.Addr{}, false
}
