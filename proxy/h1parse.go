package proxy

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// The request-head parser of the fast HTTP/1.1 server (h1server.go). It takes a
// strict subset of HTTP/1.1: the request heads browsers, API clients and load
// generators send. On that subset its result is the one net/http's readRequest
// gives (FuzzParseRequestHead checks it); on anything else it says no, and the
// connection goes to net/http, which answers it as it always did (400, 431, 505 …).
//
// The subset: "METHOD /origin-form HTTP/1.1" CRLF, header lines "Name: value" CRLF
// with token names and no folding, exactly one valid Host, at most one Content-Length
// of plain digits, and no Transfer-Encoding or Pragma (net/http rewrites the latter
// into Cache-Control). CONNECT and the HTTP/2 preface are not in it.

// headEnd looks for the end of a request head in b: its length through the blank
// line, or 0 while it is incomplete. ok is false once b shows a line that is not
// CRLF-terminated (a bare LF, which net/http tolerates and this parser does not), or
// when b begins with an empty line (n is then meaningless).
func headEnd(b []byte) (n int, ok bool) {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0, true
		}
		j += i
		if j == 0 || b[j-1] != '\r' {
			return 0, false
		}
		if j == i+1 { // an empty line: the end of the head
			return j + 1, i > 0
		}
		i = j + 1
	}
}

// requestHead is what parseRequestHead fills in: the fields of the connection's
// reusable http.Request, its URL and header map, and the backing of the header
// values (each value a one-element slice of it).
type requestHead struct {
	req    *http.Request
	url    *url.URL
	header http.Header
	values []string
}

// parseRequestHead parses head (headEnd's bytes, as one string: every name, value
// and the target are sliced out of it) into h. It reports false, with h's fields in
// no particular state, when head is outside the subset.
func parseRequestHead(head string, h *requestHead) bool {
	line, rest, _ := strings.Cut(head, "\r\n")
	method, target, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(target, " ")
	if !ok1 || !ok2 || proto != "HTTP/1.1" || !isToken(method) ||
		method == http.MethodConnect || method == "PRI" || !parseOriginForm(target, h.url) {
		return false
	}
	r := h.req
	r.Method, r.RequestURI, r.URL = method, target, h.url
	r.Proto, r.ProtoMajor, r.ProtoMinor = proto, 1, 1
	r.ContentLength = 0

	// rest is the header lines and the blank line that ends them.
	clear(h.header)
	var ok bool
	if h.values, ok = parseHeaderFields(rest[:len(rest)-2], h.header, h.values[:0]); !ok {
		return false
	}
	hosts, lengths := h.header["Host"], h.header["Content-Length"]
	if len(hosts) != 1 || !httpguts.ValidHostHeader(hosts[0]) || len(lengths) > 1 {
		return false
	}
	if _, ok := h.header["Transfer-Encoding"]; ok {
		return false
	}
	if _, ok := h.header["Pragma"]; ok {
		return false
	}
	if len(lengths) == 1 {
		if r.ContentLength, ok = contentLengthDigits(lengths[0]); !ok {
			return false
		}
	}
	host := hosts[0]
	delete(h.header, "Host") // net/http keeps it in Request.Host only
	r.Host = host
	r.Header = h.header
	r.Close = httpguts.HeaderValuesContainsToken(h.header["Connection"], "close")
	return true
}

// parseOriginForm fills u from an origin-form target ("/path?query") the way
// url.ParseRequestURI does; a path of plain characters is taken as it is, anything
// else (escapes, characters url would escape) is left to url.ParseRequestURI.
func parseOriginForm(target string, u *url.URL) bool {
	if target == "" || target[0] != '/' {
		return false
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c < ' ' || c == 0x7f {
			return false
		}
	}
	*u = url.URL{}
	path := target
	if strings.HasSuffix(target, "?") && strings.Count(target, "?") == 1 {
		path, u.ForceQuery = target[:len(target)-1], true
	} else {
		path, u.RawQuery, _ = strings.Cut(target, "?")
	}
	if plainPath(path) {
		u.Path = path
		return true
	}
	parsed, err := url.ParseRequestURI(target)
	if err != nil {
		return false
	}
	*u = *parsed
	return true
}

// plainPath reports whether url would keep p as Path with no RawPath: no escapes and
// no character its path encoding changes.
func plainPath(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		switch c {
		case '/', '-', '.', '_', '~', '$', '&', '+', ',', ':', ';', '=', '@':
			continue
		}
		return false
	}
	return true
}
