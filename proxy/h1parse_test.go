package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"
)

// acceptedHeads are heads the fast parser must take, with net/http's result.
var acceptedHeads = []struct{ name, head string }{
	{"curl", "GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"},
	{"wrk", "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"},
	{"browser", "GET /shop/cart?id=42&lang=en HTTP/1.1\r\nHost: shop.example.com\r\n" +
		"Connection: keep-alive\r\nsec-ch-ua: \"Chromium\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n" +
		"sec-ch-ua-mobile: ?0\r\nUpgrade-Insecure-Requests: 1\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8\r\n" +
		"Sec-Fetch-Site: none\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Dest: document\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-GB,en;q=0.9,de;q=0.8\r\n" +
		"Cookie: _ga=GA1.1.1; session=abc.def-ghi_jkl; sticky=pod-7\r\nIf-None-Match: W/\"5e-1\"\r\n\r\n"},
	{"two cookie lines", "GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1; b=2\r\nCookie: c=3\r\n\r\n"},
	{"query string", "GET /search?q=go+lang&page=2&x=%20y HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"force query", "GET /a? HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"two question marks", "GET /a?? HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"escaped space", "GET /a%20b HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"escaped utf-8", "GET /caf%C3%A9?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"raw path", "GET /a!b HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"escaped slash", "GET /a%2Fb HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"double slash", "GET //evil.example/x HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"plain path characters", "GET /~u/a.b_c-d/$&+,:;=@/ HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"fragment-like", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"duplicate headers", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-B: b\r\nX-A: 2\r\nx-a: 3\r\n\r\n"},
	{"lower-case names", "GET / HTTP/1.1\r\nhost: a\r\nx-forwarded-for: 10.0.0.1\r\ncontent-type: text/plain\r\nACCEPT: */*\r\n\r\n"},
	{"odd token names", "GET / HTTP/1.1\r\nHost: a\r\nx_under: 1\r\n#!$%&'*+.^`|~: 2\r\nX-1st: 3\r\n\r\n"},
	{"obs-text value", "GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9 \xff\r\n\r\n"},
	{"empty values", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Blank:   \r\nX-Tab:\t\r\n\r\n"},
	{"padded values", "GET / HTTP/1.1\r\nHost:  a  \r\nX-A:\t v \t w\t \r\n\r\n"},
	{"empty host", "GET / HTTP/1.1\r\nHost:\r\n\r\n"},
	{"ipv6 host", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"},
	{"post with content-length", "POST /api/v1/items HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n"},
	{"content-length zero", "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"},
	{"content-length leading zeros", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length:  00012 \r\n\r\n"},
	{"connection close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"},
	{"connection keep-alive, Close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n"},
	{"upgrade (net/http's, but parsed)", "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"},
	{"expect (net/http's, but parsed)", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"},
	{"trailer header", "GET / HTTP/1.1\r\nHost: a\r\nTrailer: X-Sum\r\n\r\n"},
	{"other methods", "PURGE /cache/x HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"lower-case method", "get / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"head", "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n"},
}

// refusedHeads are outside the subset: the parser (or headEnd) must say no.
var refusedHeads = []struct{ name, head string }{
	{"HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\n\r\n"},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n"},
	{"absolute-form", "GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"connect authority", "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n"},
	{"connect path", "CONNECT /rpc HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
	{"missing host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"},
	{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"},
	{"invalid host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"},
	{"invalid host quote", "GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n"},
	{"transfer-encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{"two content-lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"},
	{"signed content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n"},
	{"empty content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n"},
	{"huge content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n"},
	{"folded line", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n b\r\n\r\n"},
	{"folded first line", "GET / HTTP/1.1\r\n X-A: a\r\nHost: a\r\n\r\n"},
	{"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n"},
	{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A\r\n\r\n"},
	{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n"},
	{"bare LF", "GET / HTTP/1.1\nHost: a\n\n"},
	{"bare LF at the end", "GET / HTTP/1.1\r\nHost: a\r\n\n"},
	{"leading CRLF", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"control byte in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x01b\r\n\r\n"},
	{"CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n"},
	{"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x7fb\r\n\r\n"},
	{"control byte in target", "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"pragma", "GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n"},
	{"two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n"},
	{"no version", "GET /\r\nHost: a\r\n\r\n"},
	{"bad escape", "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"method not a token", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n"},
}

// parseHead runs the fast parser on head into a fresh request.
func parseHead(head string) (*http.Request, bool) {
	r := &http.Request{}
	if !parseRequestHead(head, &requestHead{req: r, url: &url.URL{}, header: http.Header{}}) {
		return nil, false
	}
	return r, true
}

// fastRefuses reports whether the server would hand b (one whole head) to net/http.
func fastRefuses(b []byte) bool {
	n, ok := headEnd(b)
	if !ok || n == 0 {
		return true
	}
	_, accepted := parseHead(string(b[:n]))
	return !accepted
}

// readHeadStd is net/http's server's view of head: http.ReadRequest (which deletes
// Host from the header), then the checks conn.readRequest adds, which see the Host
// lines: they are read again here with textproto, as readRequest reads them.
func readHeadStd(head string) (*http.Request, error) {
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
	if err != nil {
		return nil, err
	}
	tp := textproto.NewReader(bufio.NewReader(strings.NewReader(head)))
	if _, err := tp.ReadLine(); err != nil {
		return nil, err
	}
	mh, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, err
	}
	hosts, haveHost := mh["Host"]
	switch {
	case r.ProtoMajor != 1:
		return nil, errors.New("505: unsupported protocol version")
	case r.ProtoAtLeast(1, 1) && len(hosts) == 0 && r.Method != http.MethodConnect:
		return nil, fmt.Errorf("400: missing Host (present: %v)", haveHost)
	case len(hosts) == 1 && !httpguts.ValidHostHeader(hosts[0]):
		return nil, errors.New("400: malformed Host header")
	}
	for k, vv := range r.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, errors.New("400: invalid header name")
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, errors.New("400: invalid header value")
			}
		}
	}
	return r, nil
}

// diffRequests lists where got (the fast parser's) differs from want (net/http's).
func diffRequests(got, want *http.Request) []string {
	var d []string
	field := func(name string, g, w any) {
		if !reflect.DeepEqual(g, w) {
			d = append(d, fmt.Sprintf("%s: got %#v, want %#v", name, g, w))
		}
	}
	field("Method", got.Method, want.Method)
	field("RequestURI", got.RequestURI, want.RequestURI)
	gu, wu := got.URL, want.URL
	if gu == nil || wu == nil {
		field("URL", gu, wu)
	} else {
		field("URL.Scheme", gu.Scheme, wu.Scheme)
		field("URL.Opaque", gu.Opaque, wu.Opaque)
		field("URL.User", gu.User, wu.User)
		field("URL.Host", gu.Host, wu.Host)
		field("URL.Path", gu.Path, wu.Path)
		field("URL.RawPath", gu.RawPath, wu.RawPath)
		field("URL.ForceQuery", gu.ForceQuery, wu.ForceQuery)
		field("URL.RawQuery", gu.RawQuery, wu.RawQuery)
		field("URL.Fragment", gu.Fragment, wu.Fragment)
		field("URL.RawFragment", gu.RawFragment, wu.RawFragment)
		field("URL.OmitHost", gu.OmitHost, wu.OmitHost)
	}
	field("Proto", got.Proto, want.Proto)
	field("ProtoMajor", got.ProtoMajor, want.ProtoMajor)
	field("ProtoMinor", got.ProtoMinor, want.ProtoMinor)
	if got.Header == nil || want.Header == nil {
		field("Header (nil)", got.Header == nil, want.Header == nil)
	} else {
		field("Header", got.Header, want.Header)
	}
	field("Host", got.Host, want.Host)
	field("ContentLength", got.ContentLength, want.ContentLength)
	field("Close", got.Close, want.Close)
	return d
}

// checkHeadEnd checks headEnd's answer for b against its definition.
func checkHeadEnd(t *testing.T, b []byte) {
	t.Helper()
	n, ok := headEnd(b)
	first := bytes.Index(b, []byte("\r\n\r\n"))
	switch {
	case ok && n > 0 && (!bytes.HasSuffix(b[:n], []byte("\r\n\r\n")) || first != n-4):
		t.Fatalf("headEnd(%q) = %d: not the first blank line (first \\r\\n\\r\\n ends at %d)", b, n, first+4)
	case ok && n == 0 && first >= 0:
		t.Fatalf("headEnd(%q) = 0, true: but it holds a blank line at %d", b, first)
	case ok && n > 0 && bytes.Contains(bytes.ReplaceAll(b[:n], []byte("\r\n"), nil), []byte("\n")):
		t.Fatalf("headEnd(%q) = %d, true: the head holds a bare LF", b, n)
	}
}

func FuzzParseRequestHead(f *testing.F) {
	for _, tc := range acceptedHeads {
		f.Add([]byte(tc.head))
	}
	for _, tc := range refusedHeads {
		f.Add([]byte(tc.head))
	}
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nX: "))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkHeadEnd(t, b)
		n, ok := headEnd(b)
		if !ok || n == 0 {
			return
		}
		head := string(b[:n])
		got, accepted := parseHead(head)
		if !accepted {
			return
		}
		want, err := readHeadStd(head)
		if err != nil {
			t.Fatalf("the fast parser takes %q, net/http refuses it: %v", head, err)
		}
		if d := diffRequests(got, want); len(d) > 0 {
			t.Fatalf("%q: the fast parser differs from net/http:\n%s", head, strings.Join(d, "\n"))
		}
	})
}

func TestParseRequestHeadAcceptsCommonHeads(t *testing.T) {
	for _, tc := range acceptedHeads {
		t.Run(tc.name, func(t *testing.T) {
			checkHeadEnd(t, []byte(tc.head))
			if n, ok := headEnd([]byte(tc.head)); !ok || n != len(tc.head) {
				t.Fatalf("headEnd = %d, %v; want %d, true", n, ok, len(tc.head))
			}
			got, ok := parseHead(tc.head)
			if !ok {
				t.Fatalf("refused %q", tc.head)
			}
			want, err := readHeadStd(tc.head)
			if err != nil {
				t.Fatalf("net/http refuses %q: %v", tc.head, err)
			}
			if d := diffRequests(got, want); len(d) > 0 {
				t.Fatalf("differs from net/http:\n%s", strings.Join(d, "\n"))
			}
		})
	}
}

func TestParseRequestHeadRefusesOutsideTheSubset(t *testing.T) {
	for _, tc := range refusedHeads {
		t.Run(tc.name, func(t *testing.T) {
			if !fastRefuses([]byte(tc.head)) {
				t.Fatalf("took %q; it is net/http's to answer", tc.head)
			}
		})
	}
}

// A head parsed into a reused requestHead must not keep anything of the one before.
func TestParseRequestHeadReusedHeadKeepsNothing(t *testing.T) {
	r, u := &http.Request{}, &url.URL{}
	h := &requestHead{req: r, url: u, header: make(http.Header), values: make([]string, 0, 2)}
	for i, tc := range acceptedHeads {
		*r = http.Request{}
		if !parseRequestHead(tc.head, h) {
			t.Fatalf("%s: refused", tc.name)
		}
		want, err := readHeadStd(tc.head)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffRequests(r, want); len(d) > 0 {
			t.Fatalf("%s (after %d heads): differs from net/http:\n%s", tc.name, i, strings.Join(d, "\n"))
		}
	}
}

func TestParseRequestHeadEnd(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		ok   bool
		name string
	}{
		{"", 0, true, "empty"},
		{"GET / HTTP/1.1\r\n", 0, true, "one line"},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r", 0, true, "CR of the blank line"},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody", 27, true, "complete, with more"},
		{"GET / HTTP/1.1\r\n\r\n", 18, true, "no header lines"},
		{"GET / HTTP/1.1\nHost: a\r\n\r\n", 0, false, "bare LF"},
		{"\nGET", 0, false, "LF first"},
		{"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 26, true, "CR inside a line"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkHeadEnd(t, []byte(tc.in))
			if n, ok := headEnd([]byte(tc.in)); n != tc.n || ok != tc.ok {
				t.Fatalf("headEnd(%q) = %d, %v; want %d, %v", tc.in, n, ok, tc.n, tc.ok)
			}
		})
	}
}

// headView answers with what a handler sees of the request's head.
func headView(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "%s %q %q %s host=%q cl=%d close=%v te=%v header=%v", r.Method, r.RequestURI,
		r.URL.String(), r.Proto, r.Host, r.ContentLength, r.Close, r.TransferEncoding, r.Header)
}

// Every head of the parser's tables, sent on the wire, is answered as net/http
// answers it: by the fast path inside the subset, by net/http outside it.
func TestFastServerAnswersHeadsAsNetHTTP(t *testing.T) {
	std := startStdServer(t, http.HandlerFunc(headView), nil)
	fast := startFastServer(t, http.HandlerFunc(headView), nil).addr
	heads := append(append([]struct{ name, head string }{}, acceptedHeads...), refusedHeads...)
	for _, tc := range heads {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.head
			if r, ok := parseHead(tc.head); ok && r.ContentLength > 0 {
				raw += strings.Repeat("b", int(r.ContentLength))
			}
			method := strings.SplitN(raw, " ", 2)[0]
			answer := func(addr string) string {
				c := dialRaw(t, addr)
				c.send(raw)
				_ = c.c.(*net.TCPConn).CloseWrite()
				resp, err := c.read(method, 5*time.Second)
				if err != nil {
					return "error: " + err.Error()
				}
				return describeCase(caseResult{Resp: resp})
			}
			if s, f := answer(std), answer(fast); s != f {
				t.Fatalf("%q:\nnet/http: %s\nfast:     %s", raw, s, f)
			}
		})
	}
}
