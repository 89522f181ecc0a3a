package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

// readResponseCases: raw response bytes and whether the fast path must take them.
// Those it refuses must be left to http.ReadResponse untouched.
var readResponseCases = []struct {
	name string
	raw  string
	head bool // the request is a HEAD
	fast bool
}{
	{name: "200 with body", fast: true,
		raw: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"},
	{name: "common backend response", fast: true,
		raw: "HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nContent-Type: application/json\r\nContent-Length: 20\r\nCache-Control: no-store\r\n\r\n{\"status\":\"ok\",\"n\":1}"},
	{name: "next response already buffered", fast: true,
		raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
	{name: "content-length 0", fast: true, raw: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
	{name: "content-length with leading zeros", fast: true, raw: "HTTP/1.1 200 OK\r\nContent-Length: 003\r\n\r\nabc"},
	{name: "body shorter than content-length", fast: true, raw: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"},
	{name: "chunked", fast: true,
		raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"},
	{name: "chunked, capitalised", fast: true,
		raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
	{name: "chunked with trailer fields", fast: true,
		raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nGrpc-Status: 0\r\nx-extra: a\r\n\r\n"},
	{name: "chunked, cut short", fast: true, raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"},
	{name: "chunked, trailer cut short", fast: true,
		raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: y\r\n"},
	{name: "chunked, bad chunk size", fast: true, raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"},
	{name: "connection close", fast: true,
		raw: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"},
	{name: "connection keep-alive, Close", fast: true,
		raw: "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: foo, CLOSE\r\nContent-Length: 2\r\n\r\nok"},
	{name: "connection keep-alive", fast: true,
		raw: "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"},
	{name: "duplicate headers", fast: true,
		raw: "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nVary: Accept\r\nSet-Cookie: b=2\r\nset-cookie: c=3\r\nContent-Length: 0\r\n\r\n"},
	{name: "non-canonical keys", fast: true,
		raw: "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nx-request-ID: 7\r\nCONTENT-LENGTH: 1\r\netag: \"x\"\r\n\r\nz"},
	{name: "keys with digits and symbols", fast: true,
		raw: "HTTP/1.1 200 OK\r\nX-1st~key: a\r\n#!$%&'*+.^_`|: b\r\nContent-Length: 0\r\n\r\n"},
	{name: "values with tabs, obs-text and padding", fast: true,
		raw: "HTTP/1.1 200 OK\r\nX-A: \t a\tb \t\r\nX-B:\xe2\x82\xac\xff\r\nX-C:\r\nX-D:   \r\nContent-Length: 0\r\n\r\n"},
	{name: "odd reason phrases", fast: true, raw: "HTTP/1.1 404 Not  Found, sorry \xe9 \r\nContent-Length: 0\r\n\r\n"},
	{name: "no reason phrase", fast: true, raw: "HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n"},
	{name: "empty reason phrase", fast: true, raw: "HTTP/1.1 500 \r\nContent-Length: 0\r\n\r\n"},
	{name: "many keys, one repeated", fast: true,
		raw: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: 1\r\nX-B: 2\r\n", 3) + manyHeaderKeys + "x-a: 3\r\nContent-Length: 0\r\n\r\n"},
	{name: "pragma no-cache", fast: true, raw: "HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 0\r\n\r\n"},
	{name: "pragma no-cache, cache-control", fast: true,
		raw: "HTTP/1.1 200 OK\r\nPragma: no-cache\r\nCache-Control: max-age=1\r\nContent-Length: 0\r\n\r\n"},
	{name: "204", fast: true, raw: "HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n"},
	{name: "204 without headers", fast: true, raw: "HTTP/1.1 204 No Content\r\n\r\n"},
	{name: "204 with content-length", fast: true, raw: "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"},
	{name: "304", fast: true, raw: "HTTP/1.1 304 Not Modified\r\nEtag: \"x\"\r\n\r\n"},
	{name: "304 with content-length", fast: true, raw: "HTTP/1.1 304 Not Modified\r\nContent-Length: 42\r\n\r\n"},

	{name: "HEAD request", head: true, raw: "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n"},
	{name: "HTTP/1.0", raw: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"},
	{name: "HTTP/2 version", raw: "HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok"},
	{name: "100 continue", raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
	{name: "103 early hints", raw: "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"},
	{name: "101 switching protocols", raw: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"},
	{name: "no framing: body until close", raw: "HTTP/1.1 200 OK\r\nServer: x\r\n\r\nall of it"},
	{name: "chunked and content-length", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
	{name: "gzip transfer-encoding", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
	{name: "chunked with a Kelvin sign", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chun\u212aed\r\n\r\n0\r\n\r\n"},
	{name: "two transfer-encodings", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{name: "204 chunked", raw: "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{name: "trailer announced", raw: "HTTP/1.1 200 OK\r\nTrailer: X\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n\r\n"},
	{name: "two content-lengths", raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"},
	{name: "signed content-length", raw: "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok"},
	{name: "empty content-length", raw: "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\nok"},
	{name: "huge content-length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nok"},
	{name: "obs-fold", raw: "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n"},
	{name: "space before colon", raw: "HTTP/1.1 200 OK\r\nX-A : a\r\nContent-Length: 0\r\n\r\n"},
	{name: "empty key", raw: "HTTP/1.1 200 OK\r\n: a\r\nContent-Length: 0\r\n\r\n"},
	{name: "no colon", raw: "HTTP/1.1 200 OK\r\nX-A\r\nContent-Length: 0\r\n\r\n"},
	{name: "control byte in value", raw: "HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 0\r\n\r\n"},
	{name: "DEL in value", raw: "HTTP/1.1 200 OK\r\nX-A: a\x7fb\r\nContent-Length: 0\r\n\r\n"},
	{name: "bare LF line end", raw: "HTTP/1.1 200 OK\r\nX-A: a\nContent-Length: 0\r\n\r\n"},
	{name: "bare CR in value", raw: "HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n"},
	{name: "LF-only head", raw: "HTTP/1.1 200 OK\nContent-Length: 0\n\n"},
	{name: "two spaces before code", raw: "HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n"},
	{name: "short status code", raw: "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n"},
	{name: "status code and tab", raw: "HTTP/1.1 200\tOK\r\nContent-Length: 0\r\n\r\n"},
	{name: "status 600", raw: "HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n"},
	{name: "incomplete head", raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"},
	{name: "garbage", raw: "hello world\r\n\r\n"},
}

// manyHeaderKeys: 20 distinct keys.
var manyHeaderKeys = func() (s string) {
	for i := range 20 {
		s += fmt.Sprintf("X-Key-%d: v\r\n", i)
	}
	return s
}()

func TestReadResponseFast(t *testing.T) {
	for _, tc := range readResponseCases {
		t.Run(tc.name, func(t *testing.T) {
			if fast := compareReadResponse(t, []byte(tc.raw), tc.head); fast != tc.fast {
				t.Errorf("taken by the fast path: %v, want %v", fast, tc.fast)
			}
		})
	}
}

// A head that has not all arrived is the fallback's, which waits for the rest.
func TestReadResponseFastIncompleteHead(t *testing.T) {
	raw := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	for cut := 1; cut < strings.Index(raw, "\r\n\r\n")+4; cut++ {
		br := bufio.NewReader(io.MultiReader(strings.NewReader(raw[:cut]), strings.NewReader(raw[cut:])))
		if _, err := br.Peek(1); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := readResponseFast(br, nil); ok || br.Buffered() != cut {
			t.Fatalf("head cut after %d bytes: ok=%v, %d bytes left buffered", cut, ok, br.Buffered())
		}
	}
}

func FuzzReadResponseFast(f *testing.F) {
	for _, tc := range readResponseCases {
		f.Add([]byte(tc.raw), tc.head)
	}
	f.Fuzz(func(t *testing.T, raw []byte, head bool) {
		compareReadResponse(t, raw, head)
		compareRawHead(t, raw, head)
	})
}

// responseToRead is a GET (a HEAD with head) and a reader of raw as the pod's answer,
// as attempt has them before readResponse; false when raw is empty (attempt's Peek
// fails first).
func responseToRead(raw []byte, head bool) (*http.Request, *bufio.Reader, bool) {
	req, _ := http.NewRequest(http.MethodGet, "http://pod/", nil)
	if head {
		req.Method = http.MethodHead
	}
	br := bufio.NewReader(bytes.NewReader(raw))
	_, err := br.Peek(1)
	return req, br, err == nil
}

// compareRawHead: when readResponseHead keeps a head raw (h1rawhead.go), its lines
// with the Content-Length line back are the pod's header as http.ReadResponse reads
// it, with no hop-by-hop key, and what the writer is told of them is true; the
// response and its body match http.ReadResponse's too.
func compareRawHead(t *testing.T, raw []byte, head bool) {
	t.Helper()
	req, br, ok := responseToRead(raw, head)
	if !ok {
		return
	}
	got, ok, err := readResponseHead(br, req, true, nil)
	if err != nil || !ok {
		return // refused raw: compareReadResponse covers the rest
	}
	sb, _ := got.Body.(*sizedResponseBody)
	if sb == nil || !sb.owner.isRaw {
		return
	}
	rh := &sb.owner.raw
	want, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), req)
	if err != nil {
		t.Fatalf("kept raw what http.ReadResponse refuses (%v):\n%q", err, raw)
	}
	if g, w := describeResponse(got), describeResponse(want); g != w {
		t.Fatalf("raw response differs for %q\n got: %s\nwant: %s", raw, g, w)
	}
	lines := rh.before + "Content-Length: " + rh.contentLength + "\r\n" + rh.after + "\r\n"
	h, err := textproto.NewReader(bufio.NewReader(strings.NewReader(lines))).ReadMIMEHeader()
	if err != nil || !reflect.DeepEqual(http.Header(h), want.Header) {
		t.Fatalf("raw lines %q read as %q (%v), want %q", lines, h, err, want.Header)
	}
	for k := range h {
		if isHopByHop(k) {
			t.Fatalf("raw head %q has hop-by-hop %s", raw, k)
		}
	}
	if rh.hasType != (len(h["Content-Type"]) > 0) || rh.hasDate != (len(h["Date"]) > 0) ||
		rh.hasEncoding != (len(h["Content-Encoding"]) > 0 && h["Content-Encoding"][0] != "") {
		t.Fatalf("raw head %q: %+v", raw, *rh)
	}
	gotBody, _ := io.ReadAll(got.Body)
	wantBody, _ := io.ReadAll(want.Body)
	if !bytes.Equal(gotBody, wantBody) {
		t.Fatalf("raw body %q, want %q", gotBody, wantBody)
	}
}

// compareReadResponse parses raw with readResponseFast and, when it takes it, checks
// that http.ReadResponse gives the same response, body, trailer and leftover bytes;
// when it does not, that it consumed nothing. It reports whether the fast path took it.
func compareReadResponse(t *testing.T, raw []byte, head bool) bool {
	t.Helper()
	req, br, ok := responseToRead(raw, head)
	if !ok {
		return false
	}
	got, ok, err := readResponseFast(br, req)
	if err != nil {
		t.Fatalf("readResponseFast: %v", err)
	}
	if !ok {
		if rest, _ := io.ReadAll(br); !bytes.Equal(rest, raw) {
			t.Fatalf("refused, but consumed %d bytes", len(raw)-len(rest))
		}
		return false
	}
	wantBr := bufio.NewReader(bytes.NewReader(raw))
	want, err := http.ReadResponse(wantBr, req)
	if err != nil {
		t.Fatalf("fast path took what http.ReadResponse refuses (%v):\n%q", err, raw)
	}
	if g, w := describeResponse(got), describeResponse(want); g != w {
		t.Fatalf("response differs for %q\n got: %s\nwant: %s", raw, g, w)
	}
	if !reflect.DeepEqual(got.Header, want.Header) {
		t.Fatalf("Header differs for %q\n got: %q\nwant: %q", raw, got.Header, want.Header)
	}
	if (got.Body == http.NoBody) != (want.Body == http.NoBody) {
		t.Fatalf("Body is NoBody: %v, want %v", got.Body == http.NoBody, want.Body == http.NoBody)
	}
	gotBody, gotErr := io.ReadAll(got.Body)
	wantBody, wantErr := io.ReadAll(want.Body)
	if !bytes.Equal(gotBody, wantBody) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("body differs for %q\n got: %q, %v\nwant: %q, %v", raw, gotBody, gotErr, wantBody, wantErr)
	}
	// The read that follows the end: EOF, or the error that stuck.
	_, gotErr = got.Body.Read(make([]byte, 1))
	_, wantErr = want.Body.Read(make([]byte, 1))
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("read after the end: %v, want %v", gotErr, wantErr)
	}
	if !reflect.DeepEqual(got.Trailer, want.Trailer) {
		t.Fatalf("Trailer differs for %q\n got: %q\nwant: %q", raw, got.Trailer, want.Trailer)
	}
	gotRest, _ := io.ReadAll(br)
	wantRest, _ := io.ReadAll(wantBr)
	if !bytes.Equal(gotRest, wantRest) {
		t.Fatalf("bytes left after the response: %q, want %q", gotRest, wantRest)
	}
	return true
}

// describeResponse: the fields of a response other than Header, Body and Trailer.
func describeResponse(r *http.Response) string {
	return fmt.Sprintf("Status=%q StatusCode=%d Proto=%q %d.%d ContentLength=%d TransferEncoding=%q Close=%v Uncompressed=%v Request=%p TLS=%v",
		r.Status, r.StatusCode, r.Proto, r.ProtoMajor, r.ProtoMinor, r.ContentLength, r.TransferEncoding,
		r.Close, r.Uncompressed, r.Request, r.TLS)
}

// BenchmarkReadResponse: a typical pod response (5 headers, a 20-byte body), head
// parsed and body read, by the fast path and by http.ReadResponse.
func BenchmarkReadResponse(b *testing.B) {
	raw := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\n" +
		"Server: pod\r\nX-Request-Id: 6f1c2a9e\r\nContent-Length: 20\r\n\r\n{\"status\":\"ok\",\"n\":1}")
	req, _ := http.NewRequest(http.MethodGet, "http://pod/", nil)
	read := map[string]func(*bufio.Reader) (*http.Response, error){
		"fast": func(br *bufio.Reader) (*http.Response, error) {
			resp, ok, err := readResponseFast(br, req)
			if !ok && err == nil {
				b.Fatal("fast path refused the response")
			}
			return resp, err
		},
		"net_http": func(br *bufio.Reader) (*http.Response, error) { return http.ReadResponse(br, req) },
	}
	for _, name := range []string{"fast", "net_http"} {
		b.Run(name, func(b *testing.B) {
			src := bytes.NewReader(raw)
			br := bufio.NewReaderSize(src, 4<<10)
			var buf [64]byte
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(raw)
				br.Reset(src)
				_, _ = br.Peek(1)
				resp, err := read[name](br)
				if err != nil {
					b.Fatal(err)
				}
				for err == nil {
					_, err = resp.Body.Read(buf[:])
				}
				if err != io.EOF {
					b.Fatal(err)
				}
			}
		})
	}
}
