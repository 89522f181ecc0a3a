package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// writeRequest writes req as an HTTP/1.1 request to bw, as req.Write would for the
// requests h1Transport handles (no body, or one of known length; no trailers, no
// Expect, no upgrade): the same request line, Host, User-Agent, Content-Length and
// Connection: close rules. It skips what costs req.Write allocations and time on
// every request (a transfer writer, sorted header keys, a string replacer per
// value); header order is the map's, which HTTP does not give a meaning to. Hosts
// that need rewriting (non-ASCII, an IPv6 zone) go through req.Write.
func writeRequest(bw *bufio.Writer, req *http.Request) error {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !plainHost(host) || req.Method == http.MethodConnect || (!hasBody(req) && req.ContentLength > 0) {
		return req.Write(bw)
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	bw.WriteString(method)
	bw.WriteByte(' ')
	writeRequestURI(bw, req.URL)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")

	ua := "Go-http-client/1.1" // req.Write's default, for a request without the header
	if v, ok := req.Header["User-Agent"]; ok {
		ua = ""
		if len(v) > 0 {
			ua = v[0]
		}
	}
	if ua != "" {
		writeHeaderLine(bw, "User-Agent", ua)
	}
	n := int64(0)
	if hasBody(req) {
		n = req.ContentLength
	}
	// As req.Write: a length for a body, and Content-Length: 0 for the methods
	// whose requests usually carry one (servers expect it).
	if n > 0 || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		var buf [20]byte
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(buf[:0], n, 10))
		bw.WriteString("\r\n")
	}
	if req.Close && !httpguts.HeaderValuesContainsToken(req.Header["Connection"], "close") {
		bw.WriteString("Connection: close\r\n")
	}
	for k, vs := range req.Header {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue // written above, or not ours to pass (req.Write leaves them out too)
		}
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vs {
			writeHeaderLine(bw, k, v)
		}
	}
	if _, err := bw.WriteString("\r\n"); err != nil {
		return err
	}
	if n > 0 {
		written, err := io.CopyN(bw, req.Body, n)
		req.Body.Close()
		if err != nil {
			if err == io.EOF {
				return fmt.Errorf("http: ContentLength=%d with Body length %d", n, written)
			}
			return err
		}
	} else if hasBody(req) {
		req.Body.Close()
	}
	return nil
}

// writeRequestURI writes u.RequestURI() without making it a string first, which
// allocates for every request with a query.
func writeRequestURI(bw *bufio.Writer, u *url.URL) {
	switch {
	case u.Opaque == "":
		if p := u.EscapedPath(); p != "" {
			bw.WriteString(p)
		} else {
			bw.WriteByte('/')
		}
	case strings.HasPrefix(u.Opaque, "//"):
		bw.WriteString(u.Scheme)
		bw.WriteByte(':')
		bw.WriteString(u.Opaque)
	default:
		bw.WriteString(u.Opaque)
	}
	if u.ForceQuery || u.RawQuery != "" {
		bw.WriteByte('?')
		bw.WriteString(u.RawQuery)
	}
}

// writeHeaderLine writes "k: v\r\n", v as wireValue makes it.
func writeHeaderLine(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(wireValue(v))
	bw.WriteString("\r\n")
}

// wireValue is a header value as http.Header.Write sends it: trimmed, with line
// breaks made spaces (so that no value can end the line it is on). Both the request
// writer here and the fast server's response writer (h1response.go) send values so.
func wireValue(v string) string {
	v = textproto.TrimString(v)
	// Two byte searches, not ContainsAny, which builds a byte set per call: this
	// runs for every header line of every request and response.
	if strings.IndexByte(v, '\n') >= 0 || strings.IndexByte(v, '\r') >= 0 {
		v = newlineToSpace.Replace(v)
	}
	return v
}

var newlineToSpace = strings.NewReplacer("\n", " ", "\r", " ")

// plainHost: a Host that req.Write would send as it is (printable ASCII, no IPv6
// zone, nothing that makes it an invalid header value).
func plainHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; c <= ' ' || c >= 0x7f || c == '%' || c == '/' {
			return false
		}
	}
	return httpguts.ValidHostHeader(h)
}
