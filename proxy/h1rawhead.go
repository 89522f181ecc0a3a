package proxy

import (
	"bufio"
	"net/http"
	"strings"
	"sync/atomic"
)

// Raw heads: most pods answer an ordinary request with a head the proxy sends on
// unchanged but for the affinity cookie: canonical "Key: value" lines, no hop-by-hop
// header, a Content-Length. Parsing such a head into a header map, removing the
// hop-by-hop headers it does not have and serialising the map again was about a
// fifth of the proxy's work outside the kernel. When the lean forwarder serves a
// request through the fast server's writer, it asks the transport to keep such a
// head as it came (rawHead); the writer sends its lines verbatim, then whatever the
// header map holds, which is only what the proxy added.
//
// A head qualifies only when sending its lines as they are gives the client the
// bytes the map path would (h1response.go's WriteHeader): every key canonical, one
// space after the colon, values without surrounding whitespace; Content-Length
// present once (the writer writes the framing); nothing net/http or ReverseProxy
// would change (hop-by-hop headers, Pragma, an event stream, which is flushed
// differently). Anything else takes the map path, as before.

// noRawHeads switches raw heads off: TestRawHeadsMatchMapPath compares the two paths
// while the proxy's goroutines read it.
var noRawHeads atomic.Bool

// rawHead is a response head kept as it came: its lines without the Content-Length
// line (before and after it), and what the writer needs to know of them.
type rawHead struct {
	before, after string
	contentLength string // the Content-Length value, as it came
	length        int64
	hasType       bool // a Content-Type line: nothing to sniff
	hasEncoding   bool // a non-empty Content-Encoding
	hasDate       bool
}

// rawHeadsKey is the context key with which the lean forwarder asks the transport
// for raw heads (exchangeContext answers it): its value is the *headArena to make
// the response's head in, the client connection's (headarena.go); nil asks for none.
type rawHeadsKey struct{}

// rawHeadWriter is a ResponseWriter that can send a raw head: the fast server's, and
// statusWriter around it.
type rawHeadWriter interface {
	sendsRawHeads() bool
	// writeRawHeader is WriteHeader for a response whose pod lines are rh, its
	// header map holding only what the proxy added.
	writeRawHeader(code int, rh *rawHead)
	// heads is the client connection's arena, which the request's head was made
	// in and its response's may be.
	heads() *headArena
	// releaseHeads says that nothing holds the strings of the request's heads any
	// more: once the request is over, the connection may make new ones in their
	// bytes (headArena.rewind).
	releaseHeads()
}

// rawHeadOf returns res's raw head, or nil when it has a header map of all its lines.
func rawHeadOf(res *http.Response) *rawHead {
	if rb := sizedOf(res); rb != nil && rb.isRaw {
		return &rb.raw
	}
	return nil
}

// rawResponse is the sized response of a head that qualifies as raw, its lines kept
// as they came and its header map empty, for what the proxy adds; nil for any other.
func rawResponse(br *bufio.Reader, fields string, code int) *http.Response {
	var rh rawHead
	n, ok := scanRawHead(fields, &rh)
	if !ok || !bodyAllowedForStatus(code) {
		return nil
	}
	rb := newSizedResponse(br, n)
	rb.raw, rb.isRaw = rh, true
	rb.Header = getResponseHeader()
	rb.ContentLength = n
	return &rb.Response
}

// scanRawHead checks that fields, a response's header lines ending in CRLF, qualify
// as a raw head, fills rh, and returns the Content-Length (> 0).
func scanRawHead(fields string, rh *rawHead) (int64, bool) {
	n := int64(-1)
	encodings := 0
	for i := 0; i < len(fields); {
		start := i
		key, canonical, value, next, ok := nextHeaderField(fields, i)
		// As the map path writes a line: a canonical key, one space, the value
		// trimmed.
		if !ok || !canonical || value == "" || value[0] != ' ' || len(trimSpaceTab(value[1:])) != len(value)-1 {
			return 0, false
		}
		value, i = value[1:], next
		switch key {
		case "Content-Length":
			length, ok := contentLengthDigits(value)
			if !ok || n >= 0 {
				return 0, false
			}
			n, rh.length, rh.contentLength = length, length, value
			rh.before, rh.after = fields[:start], fields[i:]
		case "Content-Type":
			if len(value) >= len(eventStream) && strings.EqualFold(value[:len(eventStream)], eventStream) {
				return 0, false
			}
			rh.hasType = true
		case "Content-Encoding":
			if encodings++; encodings > 1 {
				return 0, false // the writer looks at the first value only
			}
			rh.hasEncoding = value != ""
		case "Date":
			rh.hasDate = true
		case "Pragma":
			return 0, false // net/http may add a Cache-Control for it
		default:
			if isHopByHop(key) {
				return 0, false
			}
		}
	}
	return n, n > 0
}

// sendsRawHeads: the fast server's writer sends raw heads until its header is out.
func (w *h1ResponseWriter) sendsRawHeads() bool { return w.status == 0 }

func (w *h1ResponseWriter) heads() *headArena { return &w.conn.heads }
func (w *h1ResponseWriter) releaseHeads()     { w.headsReleased = true }

func (w *h1ResponseWriter) writeRawHeader(code int, rh *rawHead) {
	if w.status != 0 {
		return
	}
	w.begin(code)
	w.hasLengthKey, w.contentLength, w.declared = true, rh.contentLength, rh.length
	w.hasType, w.hasEncoding, w.hasDate = rh.hasType, rh.hasEncoding, rh.hasDate
	w.hdr = appendStatusLine(w.hdr, code)
	w.hdr = append(append(w.hdr, rh.before...), rh.after...)
	w.appendHeaderMap(code)
}

// sendsRawHeads and writeRawHeader pass rawHeadWriter through statusWriter.
func (w *statusWriter) sendsRawHeads() bool {
	rw, ok := w.ResponseWriter.(rawHeadWriter)
	return ok && rw.sendsRawHeads()
}

func (w *statusWriter) writeRawHeader(code int, rh *rawHead) {
	w.record(code)
	w.ResponseWriter.(rawHeadWriter).writeRawHeader(code, rh)
}

// heads and releaseHeads pass through to the fast server's writer; under another
// writer (net/http's) there is no arena.
func (w *statusWriter) heads() *headArena {
	if rw, ok := w.ResponseWriter.(rawHeadWriter); ok {
		return rw.heads()
	}
	return nil
}

func (w *statusWriter) releaseHeads() {
	if rw, ok := w.ResponseWriter.(rawHeadWriter); ok {
		rw.releaseHeads()
	}
}
