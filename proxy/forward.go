package proxy

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strings"
)

// rewrite points the outbound request at the picked endpoint and sets the forwarding
// headers. The upstream sees the client's Host, and:
//
//   - X-Forwarded-For: the peer's chain, when the peer is a trusted proxy, with the
//     peer appended; otherwise the peer alone (a client's own header is dropped).
//   - X-Forwarded-Proto, -Host, -Port: what a trusted proxy reported (it terminated
//     the client's connection), else the scheme, Host and local port of ours.
//   - X-Real-IP: the client address (see clientip.Resolver.Resolve).
//
// ReverseProxy has already removed incoming Forwarded and X-Forwarded-For/-Host/-Proto
// headers before calling Rewrite; X-Real-IP and X-Forwarded-Port are removed here.
func (u *upstream) rewrite(pr *httputil.ProxyRequest) {
	pointUpstream(exchangeFrom(pr.In.Context()), pr.In, pr.Out)
}

// pointUpstream is rewrite's work, shared with the lean forwarder (lean.go), which
// strips the same incoming headers first.
func pointUpstream(x *exchange, in, out *http.Request) {
	out.URL.Scheme = "http"
	out.URL.Host = x.decision.Endpoint.Address
	out.Host = in.Host
	h := out.Header
	delete(h, "X-Real-Ip")
	delete(h, "X-Forwarded-Port")
	setXForwarded(x, in, h)
	if x.trustedPeer {
		if x.forwardedProto != "" {
			h["X-Forwarded-Proto"] = in.Header["X-Forwarded-Proto"][:1:1]
		}
		if v := in.Header["X-Forwarded-Host"]; len(v) > 0 && v[0] != "" {
			h["X-Forwarded-Host"] = v[:1:1]
		}
		if v := in.Header["X-Forwarded-Port"]; len(v) > 0 && v[0] != "" {
			h["X-Forwarded-Port"] = v[:1:1]
		}
	}
	if _, ok := h["X-Forwarded-Port"]; !ok && x.conn != nil {
		h["X-Forwarded-Port"] = x.conn.portHeader
	}
	switch {
	case !x.clientIP.IsValid():
	case x.clientIP == x.peer && x.conn != nil:
		h["X-Real-Ip"] = x.conn.realIPHeader(in.RemoteAddr, x.peer)
	default:
		h["X-Real-Ip"] = []string{addrString(in.RemoteAddr, x.clientIP)}
	}
}

// setXForwarded does what httputil's SetXForwarded does (X-Forwarded-For: the
// trusted peer's chain, if any, then the peer; -Host; -Proto by our own listener),
// without allocating in the common case: the values of a connection's requests are
// made once per connection, and the slices are shared, never appended to in place
// (capacity 1).
func setXForwarded(x *exchange, in *http.Request, h http.Header) {
	var prior []string
	if x.trustedPeer {
		prior = in.Header["X-Forwarded-For"]
	}
	switch {
	case x.conn != nil && len(prior) == 0:
		if v := x.conn.forwardedForHeader(in.RemoteAddr, x.peer); v != nil {
			h["X-Forwarded-For"] = v
		} else {
			delete(h, "X-Forwarded-For")
		}
	default:
		if host, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
			if len(prior) > 0 {
				host = strings.Join(prior, ", ") + ", " + host
			}
			h["X-Forwarded-For"] = []string{host}
		} else {
			delete(h, "X-Forwarded-For")
		}
	}
	if x.conn != nil {
		h["X-Forwarded-Host"] = x.conn.forwardedHostHeader(in.Host)
	} else {
		h["X-Forwarded-Host"] = []string{in.Host}
	}
	if !x.overTLS(in) {
		h["X-Forwarded-Proto"] = protoHTTP
	} else {
		h["X-Forwarded-Proto"] = protoHTTPS
	}
}

var (
	protoHTTP  = []string{"http"}
	protoHTTPS = []string{"https"}
)

// addrString formats a, reusing the text of remoteAddr ("ip:port") when it names a
// as it is, which is the common case and allocates nothing.
func addrString(remoteAddr string, a netip.Addr) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		if p, err := netip.ParseAddr(host); err == nil && p == a {
			return host
		}
	}
	return a.String()
}
