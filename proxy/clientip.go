package proxy

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientIPResolver finds the client's address: the connection's peer (after PROXY
// protocol, which rewrites RemoteAddr), or — only when that peer is a trusted proxy —
// the rightmost untrusted address in X-Forwarded-For, else X-Real-IP. Headers from
// anyone else are ignored, so a client cannot choose its own source-IP affinity.
type clientIPResolver struct {
	trusted []netip.Prefix
}

func (c clientIPResolver) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func peerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// trustedPeer reports whether the request's connection comes from a trusted proxy.
func (c clientIPResolver) trustedPeer(r *http.Request) bool {
	return len(c.trusted) > 0 && c.isTrusted(peerAddr(r))
}

func (c clientIPResolver) resolve(r *http.Request) netip.Addr {
	peer := peerAddr(r)
	if len(c.trusted) == 0 || !c.isTrusted(peer) {
		return peer
	}
	// Walk X-Forwarded-For from the right: each hop appended the address it saw; the
	// first address not in a trusted range is the client.
	xff := r.Header.Values("X-Forwarded-For")
	for i := len(xff) - 1; i >= 0; i-- {
		list := xff[i]
		for list != "" {
			var hop string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				hop, list = list[j+1:], list[:j]
			} else {
				hop, list = list, ""
			}
			a, err := netip.ParseAddr(strings.TrimSpace(hop))
			if err != nil {
				return peer // a garbled chain is not believed
			}
			if !c.isTrusted(a) {
				return a.Unmap()
			}
		}
	}
	if v := r.Header.Get("X-Real-IP"); v != "" {
		if a, err := netip.ParseAddr(strings.TrimSpace(v)); err == nil {
			return a.Unmap()
		}
	}
	return peer
}
