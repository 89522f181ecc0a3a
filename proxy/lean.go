package proxy

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/net/http/httpguts"
)

// The lean forwarder serves the ordinary requests h1Transport sends itself (no
// upgrade, no Expect, no request trailers, no body or a small one of known length)
// without httputil.ReverseProxy. ReverseProxy's own work was ~15% of the proxy's CPU
// under load, most of it general machinery these requests do not need: a deep clone
// of the request and its header map, a ProxyRequest, a ClientTrace and its closure
// per request, a canonicalising Header.Add per response header, a media-type parse
// per response. Here the outbound request's URL, header map, trace and context are
// pooled, header values are shared with the inbound request (nothing on the way out
// appends to them), and response headers are handed over as they are (to the fast
// server's writer, the map itself).
//
// Behaviour is ReverseProxy's, step by step (Go 1.26 net/http/httputil), and every
// hook of ours is the same one: retryOnConnectFailure as transport (in-flight count,
// latency metric, retry and strict), pointUpstream (forward.go) for the forwarding
// headers, modifyResponse and errorHandler. Whatever this file does not handle the
// same way goes to ReverseProxy (leanEligible).

// leanEligible reports whether r may take the lean path.
func leanEligible(r *http.Request) bool {
	// Upgrades are ReverseProxy's (it hijacks the connection); Expect and request
	// trailers are http.Transport's, as are bodies h1Transport would not take.
	if !plainExchange(r) || r.ContentLength < 0 || r.ContentLength > h1SyncBodyMax {
		return false
	}
	// ReverseProxy re-encodes a query it cannot pass as it is (cleanQueryParams);
	// those are left to it. A Client trace already on the context would be
	// composed into our pooled one (httptrace.WithClientTrace changes it).
	return cleanQuery(r.URL.RawQuery) && httptrace.ContextClientTrace(r.Context()) == nil
}

// queryReencoded: a GODEBUG urlmaxqueryparams setting makes ReverseProxy re-encode
// every query; then only requests without one are lean.
var queryReencoded = strings.Contains(os.Getenv("GODEBUG"), "urlmaxqueryparams")

// cleanQuery reports whether ReverseProxy's cleanQueryParams would leave s as it is:
// no ';', only well-formed escapes, at most 10000 parameters.
func cleanQuery(s string) bool {
	if s == "" {
		return true
	}
	if queryReencoded || strings.Count(s, "&") >= 10000 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ';':
			return false
		case '%':
			if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// leanState is the pooled part of a lean exchange: the outbound URL and header map
// (cleared, keeping their buckets), the ClientTrace through which 1xx answers (103
// Early Hints) are forwarded, made once with its method value, and the outbound
// request's context, made once around both.
type leanState struct {
	url    url.URL
	header http.Header
	trace  httptrace.ClientTrace
	mu     sync.Mutex // as ReverseProxy's roundTripMutex: a late 1xx must not touch rw
	rw     http.ResponseWriter
	done   bool

	exchangeCtx exchangeContext
	ctx         context.Context // the trace on exchangeCtx

	// out is the outbound request, a copy of template (which carries ctx: a
	// Request's context can only be set by WithContext, which allocates) with the
	// inbound request's fields (copyRequestFields).
	out      http.Request
	template *http.Request
}

var leans = sync.Pool{New: func() any {
	// No size hint for the pooled header maps, here and on the fast server's
	// connections: a map of up to 8 entries is one group, which clear empties at
	// once; a hint of 16 made a table, and clearing it per request (it keeps its
	// size) wiped every group, ~2% of the proxy's CPU time under load.
	l := &leanState{header: make(http.Header)}
	l.trace.Got1xxResponse = l.got1xx
	// WithClientTrace composes with a trace on the context below, which has none
	// (leanEligible): the inbound contexts that exchangeCtx will wrap have none.
	l.exchangeCtx.Context = context.Background()
	l.ctx = httptrace.WithClientTrace(&l.exchangeCtx, &l.trace)
	l.template = new(http.Request).WithContext(l.ctx)
	return l
}}

// copyRequestFields copies r's exported fields to out, leaving out's context: what
// r.WithContext does to a fresh Request, without the allocation. (The unexported
// rest is ServeMux's pattern matching, which an outbound request has no use for.)
// TestCopyRequestFieldsCopiesEveryField holds it to the fields Request has.
func copyRequestFields(out, r *http.Request) {
	out.Method, out.URL, out.Proto, out.ProtoMajor, out.ProtoMinor = r.Method, r.URL, r.Proto, r.ProtoMajor, r.ProtoMinor
	out.Header, out.Body, out.GetBody, out.ContentLength = r.Header, r.Body, r.GetBody, r.ContentLength
	out.TransferEncoding, out.Close, out.Host, out.Trailer = r.TransferEncoding, r.Close, r.Host, r.Trailer
	out.Form, out.PostForm, out.MultipartForm = r.Form, r.PostForm, r.MultipartForm
	out.RemoteAddr, out.RequestURI, out.TLS, out.Cancel = r.RemoteAddr, r.RequestURI, r.TLS, r.Cancel
	out.Response, out.Pattern = r.Response, r.Pattern
}

// exchangeContext is context.WithValue(parent, exchangeKey{}, x) with a parent and
// an exchange that can be set again: pooled with its leanState, so that the two
// contexts an outbound request needs are not allocated per request. It wraps one
// request's context at a time; a leanState a transport might still hold (one that
// failed) is not pooled again.
type exchangeContext struct {
	context.Context
	x *exchange
	// rawHeads asks the transport to keep qualifying response heads raw
	// (h1rawhead.go), and to make them in this arena, the client connection's;
	// nil asks for neither.
	rawHeads *headArena
}

func (c *exchangeContext) Value(key any) any {
	switch key.(type) {
	case exchangeKey:
		return c.x
	case rawHeadsKey:
		return c.rawHeads
	}
	return c.Context.Value(key)
}

// got1xx forwards an informational answer, as ReverseProxy's trace does.
func (l *leanState) got1xx(code int, header textproto.MIMEHeader) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return nil
	}
	h := l.rw.Header()
	copyHeader(h, http.Header(header))
	l.rw.WriteHeader(code)
	clear(h) // WriteHeader does not clear them for 1xx
	return nil
}

// noopCloseBody is ReverseProxy's noopCloseReader: the transport's Close must not
// reach the client's body; reads after the handler's Close fail.
type noopCloseBody struct {
	body   io.ReadCloser
	closed atomic.Bool
}

func (b *noopCloseBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, errors.New("lean forwarder: read on closed request body")
	}
	return b.body.Read(p)
}

func (b *noopCloseBody) Close() error { b.closed.Store(true); return nil }

// errUnrequestedSwitch: a pod answered 101 to a request that asked for no upgrade
// (ReverseProxy's handleUpgradeResponse refuses it too: 502).
var errUnrequestedSwitch = errors.New("backend switched protocols without an upgrade request")

// serveLean forwards r (leanEligible) to x's picked endpoint and copies the answer to w.
func (u *upstream) serveLean(w http.ResponseWriter, r *http.Request, x *exchange) {
	l := leans.Get().(*leanState)
	l.rw, l.done = w, false

	// The header: the inbound one without hop-by-hop headers and without the
	// client's forwarding headers, which pointUpstream sets anew (ReverseProxy
	// deletes Forwarded and X-Forwarded-For/-Host/-Proto before Rewrite).
	// The loop notes the few headers looked at below, rather than looking them up
	// in the inbound map again.
	h := l.header
	var connection, te []string
	agent := false
	for k, v := range r.Header {
		switch k {
		case "Connection":
			connection = v
		case "Te":
			te = v
		case "User-Agent":
			agent = true
		}
		if isHopByHop(k) || isClientForwarding(k) {
			continue
		}
		h[k] = v
	}
	if len(connection) > 0 {
		removeConnectionHeaders(h, connection)
		_, agent = h["User-Agent"] // the Connection header may name it
	}
	if len(te) > 0 && httpguts.HeaderValuesContainsToken(te, "trailers") {
		h["Te"] = teTrailers // the client accepts trailers: say we do too (Go issue 21096)
	}

	l.exchangeCtx.Context, l.exchangeCtx.x = r.Context(), x
	raw, _ := w.(rawHeadWriter)
	l.exchangeCtx.rawHeads = nil
	if raw != nil && raw.sendsRawHeads() && !noRawHeads.Load() {
		l.exchangeCtx.rawHeads = raw.heads()
	}
	out := &l.out
	*out = *l.template
	copyRequestFields(out, r)
	l.url = *r.URL
	out.URL = &l.url
	out.Header = h
	out.Close = false
	out.Trailer = nil
	var body *noopCloseBody
	if r.ContentLength == 0 {
		out.Body = nil // as ReverseProxy (Go issue 16036)
	} else {
		body = &noopCloseBody{body: r.Body}
		out.Body = body
		defer body.Close()
	}
	pointUpstream(x, r, out)
	if !agent {
		h["User-Agent"] = emptyValue // send none rather than Go's default
	}

	res, err := retryOnConnectFailure{u}.RoundTrip(out)
	l.mu.Lock()
	l.done = true
	l.mu.Unlock()
	if err != nil {
		// Not pooled: a transport that gave up early might still hold the request.
		u.errorHandler(w, out, err)
		return
	}
	// The transport is done with out once it returned a response (h1Transport has
	// written all of it; the body is closed below): its state can be reused.
	defer putLean(l)

	// ReverseProxy runs ModifyResponse on a 101 before it looks at the upgrade, and
	// on anything else after removing the hop-by-hop headers.
	switching := res.StatusCode == http.StatusSwitchingProtocols
	rh := rawHeadOf(res) // the pod's lines, when the transport kept them raw
	if !switching && rh == nil {
		removeHopByHopHeaders(res.Header) // a raw head has none
	}
	if err := u.modifyResponse(res); err != nil {
		res.Body.Close()
		u.errorHandler(w, out, err)
		return
	}
	if switching {
		res.Body.Close()
		u.errorHandler(w, out, errUnrequestedSwitch)
		return
	}

	flush := flushAtOnce(res) // asked now: the header changes hands below
	dst := takeResponseHeader(w, res)
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		dst.Add("Trailer", strings.Join(keys, ", "))
	}
	if rh != nil { // asked for through raw, so raw is w
		raw.writeRawHeader(res.StatusCode, rh)
	} else {
		w.WriteHeader(res.StatusCode)
	}

	if err := u.copyLean(w, res, flush); err != nil {
		res.Body.Close()
		// The header is out: all that is left is to abort the client's response
		// (ReverseProxy does the same; Go issue 23643). handler.go's recover settles
		// the exchange on the way.
		if !shouldPanicOnCopyError(r) {
			u.proxy.ErrorLog.Printf("lean forwarder: body copy failed outside an http.Server, not aborting: %v", err)
			return
		}
		panic(http.ErrAbortHandler)
	}
	res.Body.Close() // now, to populate res.Trailer
	copyTrailers(w, dst, res.Trailer, announced)
	recycleResponse(res) // nothing holds res any more: dst is w's, the body is closed
	if raw != nil {
		// The transport is done with out and res, l is about to be cleared, and
		// w's header is emptied before its next use: the heads' strings are free.
		// (Every earlier return keeps them: a transport that failed may hold out.)
		raw.releaseHeads()
	}
}

// copyTrailers sets the response's trailers as ReverseProxy does: under their names
// when the Trailer header announced them all, else with http.TrailerPrefix.
func copyTrailers(w http.ResponseWriter, dst, trailer http.Header, announced int) {
	if len(trailer) > 0 {
		// Force chunking, so that a short body gets no Content-Length and the
		// trailers can follow it.
		_ = http.NewResponseController(w).Flush()
	}
	if len(trailer) == announced {
		copyHeader(dst, trailer)
		return
	}
	for k, vv := range trailer {
		k = http.TrailerPrefix + k
		for _, v := range vv {
			dst.Add(k, v)
		}
	}
}

func putLean(l *leanState) {
	clear(l.header) // drop the references to the request's values
	l.url = url.URL{}
	l.out = http.Request{}
	l.rw = nil
	l.exchangeCtx.Context, l.exchangeCtx.x, l.exchangeCtx.rawHeads = context.Background(), nil, nil
	leans.Put(l)
}

// takeResponseHeader makes res's header w's. The response's header map is the
// transport's, fresh per response, with keys canonical as http.ReadResponse made
// them: the fast server's writer adopts it whole (res keeps the writer's empty
// one); into any other writer's its values are copied without Header.Add
// (capacity capped, so a later append copies).
func takeResponseHeader(w http.ResponseWriter, res *http.Response) http.Header {
	dst := w.Header()
	if a, ok := w.(headerAdopter); ok && len(dst) == 0 {
		if old, ok := a.adoptHeader(res.Header); ok {
			dst, res.Header = res.Header, old
			return dst
		}
	}
	for k, vv := range res.Header {
		if old, ok := dst[k]; ok {
			dst[k] = append(old, vv...)
		} else {
			dst[k] = vv[:len(vv):len(vv)]
		}
	}
	return dst
}

// headerAdopter is a ResponseWriter that can take a header map in place of its own.
type headerAdopter interface {
	// adoptHeader makes h, which nothing else uses, the response's header, if the
	// writer's own is empty and unsent, and returns the writer's own.
	adoptHeader(h http.Header) (own http.Header, ok bool)
}

// copyLean copies the response body, flushing after every write when ReverseProxy
// would flush at once (flushAtOnce: FlushInterval 0 and the response an event
// stream or of unknown length). It returns write errors and read errors other
// than EOF.
func (u *upstream) copyLean(w http.ResponseWriter, res *http.Response, flushEach bool) error {
	var flush func() error
	if flushEach {
		flush = http.NewResponseController(w).Flush
		// ReverseProxy's maxLatencyWriter flushes the header as soon as it is
		// written, even before any body arrives: a stream's client must see it.
		_ = flush()
	}
	if b, ok := res.Body.(*h1Body); ok {
		if done, err := b.writeBuffered(w); done {
			if flush != nil {
				_ = flush()
			}
			return err
		}
	}
	buf := bufferPool{}.Get()
	defer bufferPool{}.Put(buf)
	for {
		nr, rerr := res.Body.Read(buf)
		if rerr != nil && rerr != io.EOF && rerr != context.Canceled {
			u.proxy.ErrorLog.Printf("lean forwarder: read error during body copy: %v", rerr)
		}
		if nr > 0 {
			nw, werr := w.Write(buf[:nr])
			if flush != nil {
				_ = flush()
			}
			if werr != nil {
				return werr
			}
			if nw != nr {
				return io.ErrShortWrite
			}
		}
		if rerr != nil {
			if rerr == io.EOF {
				return nil
			}
			return rerr
		}
	}
}

// flushAtOnce is ReverseProxy's flushInterval returning -1: a text/event-stream
// response, or one of unknown length. mime.ParseMediaType allocates, so it is asked
// only when the value could name an event stream: its media type is the value's
// text before ';', trimmed and lower-cased, so the trimmed value must begin with
// that text in some case.
func flushAtOnce(res *http.Response) bool {
	if ct := strings.TrimSpace(res.Header.Get("Content-Type")); len(ct) >= len(eventStream) &&
		strings.EqualFold(ct[:len(eventStream)], eventStream) {
		if base, _, _ := mime.ParseMediaType(ct); base == eventStream {
			return true
		}
	}
	return res.ContentLength == -1
}

const eventStream = "text/event-stream"

// shouldPanicOnCopyError is ReverseProxy's rule: panic only under an http.Server,
// which recovers http.ErrAbortHandler.
func shouldPanicOnCopyError(r *http.Request) bool {
	return r.Context().Value(http.ServerContextKey) != nil
}

// removeHopByHopHeaders is ReverseProxy's: the headers the Connection header names,
// then the fixed hop-by-hop set (RFC 7230 6.1, RFC 2616 13.5.1).
func removeHopByHopHeaders(h http.Header) {
	removeConnectionHeaders(h, h["Connection"])
	for k := range h {
		if isHopByHop(k) { // keys are canonical already, as http.ReadResponse made them
			delete(h, k)
		}
	}
}

// removeConnectionHeaders deletes from h the headers named in the Connection values.
func removeConnectionHeaders(h http.Header, connection []string) {
	for _, f := range connection {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
}

// isHopByHop reports whether the canonical header key k names one of the fixed
// hop-by-hop headers, which ReverseProxy removes in both directions.
func isHopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// isClientForwarding reports whether k is a forwarding header of the client's, which
// ReverseProxy deletes before Rewrite and pointUpstream sets anew.
func isClientForwarding(k string) bool {
	switch k {
	case "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto":
		return true
	}
	return false
}

func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		for _, v := range vv {
			dst.Add(k, v)
		}
	}
}

var (
	teTrailers = []string{"trailers"}
	emptyValue = []string{""}
)
