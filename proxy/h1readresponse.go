package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strings"
	"sync"

	"golang.org/x/net/http/httpguts"
)

// readResponseFast parses the common response head — HTTP/1.1, a final status, clean
// "Token: value" lines, framed by one Content-Length or by chunked — when all of it is
// already in br's buffer, and returns what http.ReadResponse would return for the same
// bytes. http.ReadResponse was ~6% of the proxy's CPU under load: textproto's header
// reader copies every line, allocates every key and value, and readTransfer allocates
// again; here the head becomes one string that keys and values are sliced from.
//
// Anything outside that subset (1xx, HTTP/1.0, HEAD, obs-fold, odd framing, Trailer,
// a head not yet fully buffered, …) returns ok=false with br untouched, and the caller
// falls back to http.ReadResponse: the subset only has to be safe, not complete. Every
// rule below mirrors net/http (response.go, transfer.go, textproto/reader.go); the
// differential test and FuzzReadResponseFast hold them to it.
func readResponseFast(br *bufio.Reader, req *http.Request) (_ *http.Response, ok bool, _ error) {
	return readResponseHead(br, req, false, nil)
}

// readResponseHead is readResponseFast, and with raw a response whose head qualifies
// (scanRawHead) keeps its header lines as they came, for the fast server's writer to
// send on, and gets no header map of them (h1rawhead.go). The head's string is
// made in heads (nil: allocated).
func readResponseHead(br *bufio.Reader, req *http.Request, raw bool, heads *headArena) (_ *http.Response, ok bool, _ error) {
	if req != nil && req.Method == http.MethodHead {
		// A response to HEAD has no body whatever its framing says, yet net/http takes
		// its ContentLength from the header: the fallback's case.
		return nil, false, nil
	}
	// Peek never blocks for bytes already buffered: an incomplete head is the
	// fallback's to wait for.
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 || !bytes.HasPrefix(buf, []byte("HTTP/1.1 ")) {
		return nil, false, nil
	}
	head := heads.string(buf[:end+2]) // keys and values point into it

	statusLine, fields, _ := strings.Cut(head, "\r\n")
	status, code, ok := parseResponseStatusLine(statusLine)
	if !ok {
		return nil, false, nil
	}
	var resp *http.Response
	if raw {
		resp = rawResponse(br, fields, code)
	}
	if resp == nil {
		if resp = mappedResponse(br, fields, code); resp == nil {
			return nil, false, nil
		}
	}
	resp.Status, resp.StatusCode = status, code
	resp.Proto, resp.ProtoMajor, resp.ProtoMinor = "HTTP/1.1", 1, 1
	resp.Request = req
	if _, err := br.Discard(len(head) + 2); err != nil {
		return nil, false, err // cannot happen: the bytes are buffered
	}
	return resp, true, nil
}

// mappedResponse parses fields into the response's header map and frames its body,
// or returns nil for what the fallback must read.
func mappedResponse(br *bufio.Reader, fields string, code int) *http.Response {
	lines := strings.Count(fields, "\n")
	header := getResponseHeader()
	if _, ok := parseHeaderFields(fields, header, make([]string, 0, lines)); !ok {
		putResponseHeader(header)
		return nil
	}
	contentLength, chunked, ok := responseFraming(code, header)
	if !ok {
		putResponseHeader(header)
		return nil
	}

	// Accepted: from here on, what readTransfer and fixPragmaCacheControl do to the
	// header and the response.
	var resp *http.Response
	switch {
	case chunked:
		delete(header, "Transfer-Encoding")
		resp = &http.Response{TransferEncoding: []string{"chunked"}}
		resp.Body = &chunkedResponseBody{src: httputil.NewChunkedReader(br), br: br, resp: resp}
	case contentLength > 0:
		resp = &newSizedResponse(br, contentLength).Response
	default: // Content-Length: 0, or 204/304
		resp = &http.Response{Body: http.NoBody}
	}
	resp.Header = header
	resp.ContentLength = contentLength
	if httpguts.HeaderValuesContainsToken(header["Connection"], "close") {
		// net/http's shouldClose removes the header it acted on.
		delete(header, "Connection")
		resp.Close = true
	}
	if p := header["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := header["Cache-Control"]; !ok {
			header["Cache-Control"] = []string{"no-cache"}
		}
	}
	return resp
}

// sizedResponse: a response with a Content-Length body, allocated as one (with the
// h1Body the transport wraps the body in: sizedResponseBody.wrapper).
type sizedResponse struct {
	http.Response
	body sizedResponseBody
	// raw is the head as it came, when isRaw (readResponseHead).
	raw   rawHead
	isRaw bool
}

// newSizedResponse is a response whose body is the next n bytes of br: pooled, the
// lean forwarder recycles it (recycleResponse).
func newSizedResponse(br *bufio.Reader, n int64) *sizedResponse {
	rb := sizedResponses.Get().(*sizedResponse)
	rb.body.lr = io.LimitedReader{R: br, N: n}
	rb.Body = &rb.body
	return rb
}

// Response heads are the one thing every proxied request parses: their header maps
// and sized responses are pooled. A header map comes back through the fast server's
// writer, which adopts the response's map and gives back its own, emptied at its
// last request (takeResponseHeader); a sized response comes back when the lean
// forwarder has copied it (recycleResponse). Whatever is not given back is left to
// the garbage collector, as before.
var (
	responseHeaders = sync.Pool{New: func() any { return make(http.Header, 8) }}
	sizedResponses  = sync.Pool{New: func() any {
		rb := new(sizedResponse)
		rb.body.owner = rb
		return rb
	}}
)

func getResponseHeader() http.Header { return responseHeaders.Get().(http.Header) }

// putResponseHeader pools h, which nothing may use any more.
func putResponseHeader(h http.Header) {
	clear(h)
	responseHeaders.Put(h)
}

// recycleResponse pools res's parts once its exchange is over: its header map, which
// nothing may use any more, and res itself when readResponseFast made it as a
// sizedResponse and its body has been read and closed.
func recycleResponse(res *http.Response) {
	if res.Header != nil {
		putResponseHeader(res.Header)
		res.Header = nil
	}
	if rb := sizedOf(res); rb != nil && rb.body.wrapper.pc == nil { // read and closed
		*rb = sizedResponse{}
		rb.body.owner = rb
		sizedResponses.Put(rb)
	}
}

// sizedOf returns the sizedResponse res is, when readResponseHead made it and the
// transport wrapped its body; else nil.
func sizedOf(res *http.Response) *sizedResponse {
	if b, ok := res.Body.(*h1Body); ok {
		if sb, ok := b.body.(*sizedResponseBody); ok && sb.owner != nil && &sb.owner.Response == res {
			return sb.owner
		}
	}
	return nil
}

// parseResponseStatusLine accepts "HTTP/1.1 DDD" with an optional " reason" of
// header-value bytes, codes 200–599 (1xx are readResponse's to loop over). Status is
// what follows the version, as in http.ReadResponse.
func parseResponseStatusLine(line string) (status string, code int, ok bool) {
	status = line[len("HTTP/1.1 "):]
	if len(status) < 3 || len(status) > 3 && status[3] != ' ' {
		return "", 0, false
	}
	for i := 0; i < 3; i++ {
		if status[i] < '0' || status[i] > '9' {
			return "", 0, false
		}
		code = code*10 + int(status[i]-'0')
	}
	if code < 200 || code > 599 || !validFieldValue(status[3:]) {
		return "", 0, false
	}
	return status, code, true
}

// responseFraming decides the body as readTransfer and fixLength would, for the cases
// taken here: one Content-Length of plain digits, or chunked without Content-Length;
// 204 and 304 have no body whatever their Content-Length says. contentLength is -1
// for chunked.
func responseFraming(code int, header http.Header) (contentLength int64, chunked, ok bool) {
	if _, ok := header["Trailer"]; ok {
		return 0, false, false
	}
	cl := header["Content-Length"]
	if te, ok := header["Transfer-Encoding"]; ok {
		// net/http accepts "chunked" in any ASCII case (the length check keeps
		// strings.EqualFold's Unicode folding out: "chun\u212aed" is refused).
		ok = len(te) == 1 && len(te[0]) == len("chunked") && strings.EqualFold(te[0], "chunked") &&
			len(cl) == 0 && bodyAllowedForStatus(code)
		return -1, true, ok
	}
	switch len(cl) {
	case 0:
		// Without framing a body runs until the connection closes: the fallback's case.
		return 0, false, !bodyAllowedForStatus(code)
	case 1:
		n, ok := contentLengthDigits(cl[0])
		if !bodyAllowedForStatus(code) {
			n = 0
		}
		return n, false, ok
	}
	return 0, false, false // several Content-Length: net/http dedupes or refuses them
}

// sizedResponseBody reads a Content-Length body as net/http's body does: io.EOF
// together with the last byte, io.ErrUnexpectedEOF if the connection ends early.
//
// Close does not drain the rest as net/http's does: h1Body, the only holder, never
// closes it (it drops the connection instead), and draining could block for ever.
type sizedResponseBody struct {
	lr             io.LimitedReader
	sawEOF, closed bool
	// wrapper is the h1Body around this body, here to save an allocation.
	wrapper h1Body
	// owner is the sizedResponse this body is part of, for recycleResponse.
	owner *sizedResponse
}

func (b *sizedResponseBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.sawEOF {
		return 0, io.EOF
	}
	n, err := b.lr.Read(p)
	switch {
	case err == io.EOF:
		b.sawEOF = true
		if b.lr.N > 0 {
			err = io.ErrUnexpectedEOF
		}
	case err == nil && n > 0 && b.lr.N == 0:
		b.sawEOF = true
		err = io.EOF
	}
	return n, err
}

// writeBuffered writes the rest of the body to w in one Write when all of it is in
// the reader's buffer, and is then at its end, as a Read to the end leaves it; it
// reports false, having done nothing, when the rest is not all buffered (or there
// is none, or the body is closed).
func (b *sizedResponseBody) writeBuffered(w io.Writer) (bool, error) {
	br, ok := b.lr.R.(*bufio.Reader)
	if !ok || b.closed || b.sawEOF || b.lr.N <= 0 || b.lr.N > int64(br.Buffered()) {
		return false, nil
	}
	rest, _ := br.Peek(int(b.lr.N)) // buffered: no read, no error
	n, err := w.Write(rest)
	_, _ = br.Discard(len(rest))
	b.lr.N, b.sawEOF = 0, true
	if err == nil && n != len(rest) {
		err = io.ErrShortWrite
	}
	return true, err
}

func (b *sizedResponseBody) Close() error {
	b.closed = true
	return nil
}

// chunkedResponseBody reads a chunked body and then its trailer section into
// resp.Trailer, as net/http's body does. Close does not drain either (see
// sizedResponseBody).
type chunkedResponseBody struct {
	src            io.Reader // httputil.NewChunkedReader: net/http's own chunked reader
	br             *bufio.Reader
	resp           *http.Response
	sawEOF, closed bool
}

// The texts of net/http's own trailer errors.
var (
	errResponseTrailerEOF     = errors.New("http: unexpected EOF reading trailer")
	errResponseTrailerTooLong = errors.New("http: suspiciously long trailer after chunked body")
)

func (b *chunkedResponseBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.sawEOF {
		return 0, io.EOF
	}
	n, err := b.src.Read(p)
	if err == io.EOF {
		b.sawEOF = true
		if terr := b.readTrailer(); terr != nil {
			// As net/http: after a broken trailer nothing more may be read.
			err, b.sawEOF, b.closed = terr, false, true
		}
	}
	return n, err
}

func (b *chunkedResponseBody) readTrailer() error {
	buf, err := b.br.Peek(2)
	if bytes.Equal(buf, []byte("\r\n")) {
		_, _ = b.br.Discard(2)
		return nil
	}
	if len(buf) < 2 {
		return errResponseTrailerEOF
	}
	if err != nil {
		return err
	}
	// The trailer must end within the buffer, which bounds its size (net/http's
	// seeUpcomingDoubleCRLF).
	if !upcomingDoubleCRLF(b.br) {
		return errResponseTrailerTooLong
	}
	trailer, err := textproto.NewReader(b.br).ReadMIMEHeader()
	if err != nil {
		if err == io.EOF {
			return errResponseTrailerEOF
		}
		return err
	}
	// Trailer is nil until now: a response announcing one in a Trailer header is
	// the fallback's.
	b.resp.Trailer = http.Header(trailer)
	return nil
}

func upcomingDoubleCRLF(br *bufio.Reader) bool {
	for n := 4; ; n++ {
		buf, err := br.Peek(n)
		if bytes.HasSuffix(buf, []byte("\r\n\r\n")) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

func (b *chunkedResponseBody) Close() error {
	b.closed = true
	return nil
}
