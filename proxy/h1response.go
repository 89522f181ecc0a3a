package proxy

import (
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// h1ResponseWriter is the fast path's http.ResponseWriter. Its rules are
// net/http's (chunkWriter.writeHeader in Go 1.26 net/http/server.go), for HTTP/1.1:
//   - the header is taken at WriteHeader: later changes to the map are not sent,
//     except the trailers;
//   - a body that is written whole before the handler returns, up to
//     responseBufferMax, gets a Content-Length; a longer one, or one flushed, is
//     chunked unless the handler set a Content-Length;
//   - no body for HEAD, 1xx, 204 and 304 (and no Content-Type for 304);
//   - Date, and a sniffed Content-Type when the handler set none and no
//     Content-Encoding;
//   - "Connection: close" when the client asked for it or the server is shutting
//     down; a body shorter than its Content-Length closes the connection after it.
//
// The header is serialised once, at WriteHeader, into a buffer of the connection's;
// the framing lines are added when the body's size is known (commit).
type h1ResponseWriter struct {
	conn   *h1ServerConn
	req    *http.Request
	header http.Header

	status      int
	bodyAllowed bool
	isHEAD      bool
	committed   bool
	chunking    bool
	closeAfter  bool
	// headsReleased: the handler holds none of the request's head strings any
	// more (releaseHeads), and the connection may rewind its arena.
	headsReleased bool

	// What WriteHeader saw in the handler's header.
	contentLength string // the handler's valid Content-Length ("" = none)
	declared      int64  // its value, or -1
	hasLengthKey  bool   // the handler set a Content-Length, valid or not
	te            string // the handler's Transfer-Encoding
	hasType       bool
	hasEncoding   bool
	hasDate       bool
	hasConnClose  bool
	prefixed      bool     // keys with http.TrailerPrefix
	trailers      []string // names the Trailer header declared

	hdr     []byte // status line and header lines, then the framing lines
	body    []byte // the body held back until its size decides the framing
	written int64
	err     error // the first write error: the connection is broken

	chunkSize [18]byte // a chunk's size line, here so that it is not allocated
}

// responseBufferMax is how much body is held back to learn its length. net/http holds
// 2 KiB; a little more lets typical API answers go out with a Content-Length.
const responseBufferMax = 4 << 10

// reset readies w for r, keeping its map and buffers (unless a large answer grew them).
func (w *h1ResponseWriter) reset(r *http.Request) {
	clear(w.header)
	hdr, body, trailers := w.hdr[:0], w.body[:0], w.trailers[:0]
	if cap(hdr) > 16<<10 {
		hdr = nil
	}
	*w = h1ResponseWriter{conn: w.conn, header: w.header, req: r, hdr: hdr, body: body, trailers: trailers,
		declared: -1, isHEAD: r.Method == http.MethodHead, closeAfter: r.Close}
}

func (w *h1ResponseWriter) Header() http.Header { return w.header }

// adoptHeader is headerAdopter's: h becomes the header, before WriteHeader and while
// the writer's own map is empty.
func (w *h1ResponseWriter) adoptHeader(h http.Header) (http.Header, bool) {
	if w.status != 0 || len(w.header) != 0 {
		return nil, false
	}
	own := w.header
	w.header = h
	return own, true
}

func (w *h1ResponseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.status != 0 {
		return // superfluous: the first one stands
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.writeInformational(code)
		return
	}
	w.begin(code)
	h := w.header
	if v, ok := h["Content-Length"]; ok {
		// Even an invalid one counts as set: net/http then computes none either.
		w.hasLengthKey = true
		if len(v) > 0 && v[0] != "" {
			if n, err := strconv.ParseInt(v[0], 10, 64); err == nil && n >= 0 {
				w.contentLength, w.declared = v[0], n
			} else {
				w.conn.f.log.V(1).Info("response Content-Length is invalid; dropped", "value", v[0])
			}
		}
	}
	if v := h["Transfer-Encoding"]; len(v) > 0 {
		w.te = v[0]
		if w.te == "identity" && w.declared == -1 {
			w.closeAfter = true // no length and no chunks: the close ends the body
		}
	}
	w.hasConnClose = httpguts.HeaderValuesContainsToken(h["Connection"], "close")
	if w.hasConnClose {
		w.closeAfter = true
	}

	w.hdr = appendStatusLine(w.hdr, code)
	w.appendHeaderMap(code)
}

// begin notes the final status code of the response.
func (w *h1ResponseWriter) begin(code int) {
	w.status = code
	w.bodyAllowed = bodyAllowedForStatus(code)
	// A shutdown that began during the request ends keep-alive with this answer.
	w.closeAfter = w.closeAfter || w.conn.f.closing.Load()
}

// appendHeaderMap writes the header map's lines after the status line, all but the
// framing, noting what commit needs to know of them.
func (w *h1ResponseWriter) appendHeaderMap(code int) {
	for k, vv := range w.header {
		switch {
		case strings.HasPrefix(k, http.TrailerPrefix):
			w.prefixed = true
			continue
		case k == "Content-Length", k == "Transfer-Encoding":
			continue // framing: commit writes it
		case k == "Content-Type":
			w.hasType = true
			if code == http.StatusNotModified {
				continue
			}
		case k == "Content-Encoding":
			w.hasEncoding = len(vv) > 0 && vv[0] != ""
		case k == "Date":
			w.hasDate = true
		case k == "Connection":
			if w.closeAfter && !w.hasConnClose {
				continue // replaced by "Connection: close"
			}
		case k == "Trailer":
			for _, v := range vv {
				w.declareTrailers(v)
			}
		}
		w.hdr = appendHeaderLines(w.hdr, k, vv)
	}
}

// writeInformational sends a 1xx answer (103 Early Hints) at once, with the header as
// it is now, as net/http does; the map is left to the handler to clear.
func (w *h1ResponseWriter) writeInformational(code int) {
	b := appendStatusLine(w.hdr[:0], code)
	for k, vv := range w.header {
		if k != "Content-Length" && k != "Transfer-Encoding" {
			b = appendHeaderLines(b, k, vv)
		}
	}
	b = append(b, "\r\n"...)
	w.hdr = b[:0]
	w.write(b)
	w.flush()
}

func (w *h1ResponseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !w.bodyAllowed {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.declared != -1 && w.written > w.declared {
		return 0, http.ErrContentLength
	}
	if !w.committed {
		// Held back even with a Content-Length, as net/http holds it: the sniffed
		// Content-Type then sees more than the first write.
		if len(w.body)+len(p) <= responseBufferMax {
			w.body = append(w.body, p...)
			return len(p), nil
		}
		w.commit(false, p)
	}
	return w.writeBody(p)
}

// commit writes the header with its framing lines and the body held back. final: the
// handler has returned, so a held-back body is the whole body. next is the write
// that overflowed the held-back body, whose bytes a sniffed Content-Type sees too.
func (w *h1ResponseWriter) commit(final bool, next []byte) {
	w.committed = true
	hasCL := w.declared != -1
	trailers := w.prefixed || len(w.trailers) > 0
	if final && !w.hasLengthKey && !trailers && w.te == "" && w.bodyAllowed && (!w.isHEAD || len(w.body) > 0) {
		w.declared, hasCL = int64(len(w.body)), true
		w.contentLength = ""
	}
	b := w.hdr
	if w.bodyAllowed && !w.hasType && !w.hasEncoding && w.te == "" && len(w.body)+len(next) > 0 {
		b = appendHeaderLine(b, "Content-Type", sniff(w.body, next))
	}
	if !w.hasDate {
		b = append(b, "Date: "...)
		b = appendDate(b)
		b = append(b, "\r\n"...)
	}
	if hasCL && w.te != "" && w.te != "identity" {
		hasCL = false // a Content-Length with chunks is a lie: net/http drops it too
		w.declared = -1
	}
	if hasCL && w.bodyAllowed {
		b = append(b, "Content-Length: "...)
		if w.contentLength != "" {
			b = append(b, w.contentLength...)
		} else {
			b = strconv.AppendInt(b, w.declared, 10)
		}
		b = append(b, "\r\n"...)
	}
	if !w.isHEAD && w.bodyAllowed && w.status != http.StatusNoContent && !hasCL && w.te != "identity" {
		w.chunking = true
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if w.closeAfter && !w.hasConnClose {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	w.hdr = b
	w.write(b)
	if len(w.body) > 0 {
		_, _ = w.writeBody(w.body)
	}
}

func (w *h1ResponseWriter) writeBody(p []byte) (int, error) {
	if w.isHEAD || len(p) == 0 {
		return len(p), nil
	}
	if w.chunking {
		w.write(append(strconv.AppendInt(w.chunkSize[:0], int64(len(p)), 16), '\r', '\n'))
		w.write(p)
		w.write(crlf)
	} else {
		w.write(p)
	}
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

var crlf = []byte("\r\n")

func (w *h1ResponseWriter) write(p []byte) {
	if w.err == nil {
		_, w.err = w.conn.bw.Write(p)
	}
}

func (w *h1ResponseWriter) flush() {
	if w.err == nil {
		w.err = w.conn.bw.Flush()
	}
}

// FlushError sends the header and what the handler wrote; http.ResponseController
// looks for it.
func (w *h1ResponseWriter) FlushError() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(false, nil)
	}
	w.flush()
	return w.err
}

func (w *h1ResponseWriter) Flush() { _ = w.FlushError() }

// SetReadDeadline and SetWriteDeadline are http.ResponseController's: the
// connection's, as net/http's are.
func (w *h1ResponseWriter) SetReadDeadline(t time.Time) error {
	w.conn.deadline.forget() // not ours any more: the next read re-arms its own
	return w.conn.c.SetReadDeadline(t)
}

func (w *h1ResponseWriter) SetWriteDeadline(t time.Time) error { return w.conn.c.SetWriteDeadline(t) }

// sniff is http.DetectContentType over the first 512 bytes of body and then next.
func sniff(body, next []byte) string {
	if len(body) >= 512 || len(next) == 0 {
		return http.DetectContentType(body)
	}
	var head [512]byte
	n := copy(head[:], body)
	n += copy(head[n:], next)
	return http.DetectContentType(head[:n])
}

// finish ends the response once the handler has returned: the header if it is still
// held, the last chunk and the trailers.
func (w *h1ResponseWriter) finish() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(true, nil)
	}
	if w.chunking {
		b := append(w.hdr[:0], "0\r\n"...)
		for k, vv := range w.header {
			if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
				b = appendHeaderLines(b, name, vv)
			}
		}
		for _, k := range w.trailers {
			b = appendHeaderLines(b, k, w.header[k])
		}
		b = append(b, "\r\n"...)
		w.hdr = b
		w.write(b)
	}
	if !w.isHEAD && w.bodyAllowed && w.declared != -1 && w.written != w.declared || w.err != nil {
		w.closeAfter = true // the client would read the next answer as this one's rest
	}
}

// declareTrailers notes the trailer names a Trailer header value lists.
func (w *h1ResponseWriter) declareTrailers(v string) {
	for name := range strings.SplitSeq(v, ",") {
		name = textproto.TrimString(name)
		if name == "" {
			continue
		}
		if name = http.CanonicalHeaderKey(name); httpguts.ValidTrailerHeader(name) {
			w.trailers = append(w.trailers, name)
		}
	}
}

// bodyAllowedForStatus is net/http's rule: no body with 1xx, 204 and 304. The fast
// server's responses and the transport's response heads (h1readresponse.go) both use it.
func bodyAllowedForStatus(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

func appendStatusLine(b []byte, code int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	if text := http.StatusText(code); text != "" {
		return append(append(b, text...), "\r\n"...)
	}
	b = append(b, "status code "...)
	return append(strconv.AppendInt(b, int64(code), 10), "\r\n"...)
}

// appendHeaderLines writes k's values as Header.Write does: names that are no valid
// field name are left out, line breaks in values become spaces, values are trimmed.
func appendHeaderLines(b []byte, k string, vv []string) []byte {
	if !httpguts.ValidHeaderFieldName(k) {
		return b
	}
	for _, v := range vv {
		b = appendHeaderLine(b, k, v)
	}
	return b
}

func appendHeaderLine(b []byte, k, v string) []byte {
	b = append(append(b, k...), ": "...)
	return append(append(b, wireValue(v)...), "\r\n"...)
}

// The Date value, formatted once a second.
type cachedDate struct {
	unix  int64
	value []byte
}

var currentDate atomic.Pointer[cachedDate]

func appendDate(b []byte) []byte {
	now := time.Now()
	d := currentDate.Load()
	if d == nil || d.unix != now.Unix() {
		d = &cachedDate{unix: now.Unix(), value: now.UTC().AppendFormat(nil, http.TimeFormat)}
		currentDate.Store(d)
	}
	return append(b, d.value...)
}
