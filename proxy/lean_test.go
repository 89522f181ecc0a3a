package proxy

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// leanProxy is a proxy in front of one backend running h, without affinity.
func leanProxy(t *testing.T, h http.HandlerFunc) (*testProxy, *testBackend) {
	t.Helper()
	b := startBackend(t, "lean", h)
	return startProxy(t, oneHost("lean.test", backendsOf(b), routetable.AffinityPolicy{})), b
}

func leanRequest(t *testing.T, p *testProxy, method, target string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, p.httpURL+target, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "lean.test"
	return req
}

func roundTrip(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// guard fails the test instead of hanging it when something that should arrive does
// not: a bound on a deadlock, not a timing assertion.
func guard[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s never came", what)
		panic("unreachable")
	}
}

func TestLeanEligible(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mod   func(r *http.Request)
		eligb bool
	}{
		{"plain GET", func(*http.Request) {}, true},
		{"small body", func(r *http.Request) { r.ContentLength = 10 }, true},
		{"large body", func(r *http.Request) { r.ContentLength = h1SyncBodyMax + 1 }, false},
		{"unknown length", func(r *http.Request) { r.ContentLength = -1 }, false},
		{"upgrade", func(r *http.Request) { r.Header.Set("Upgrade", "websocket") }, false},
		{"expect", func(r *http.Request) { r.Header.Set("Expect", "100-continue") }, false},
		{"trailers", func(r *http.Request) { r.Trailer = http.Header{"X-T": nil} }, false},
		{"semicolon query", func(r *http.Request) { r.URL.RawQuery = "a=1;b=2" }, false},
		{"bad escape", func(r *http.Request) { r.URL.RawQuery = "a=%zz" }, false},
		{"short escape", func(r *http.Request) { r.URL.RawQuery = "a=%4" }, false},
		{"clean query", func(r *http.Request) { r.URL.RawQuery = "a=%41&b=2" }, true},
		{"client trace", func(r *http.Request) {
			*r = *r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{}))
		}, false},
	} {
		r := httptest.NewRequest(http.MethodGet, "http://lean.test/", nil)
		tc.mod(r)
		if got := leanEligible(r); got != tc.eligb {
			t.Errorf("%s: eligible %v, want %v", tc.name, got, tc.eligb)
		}
	}
}

// The lean path must send what ReverseProxy sends: the same request through both
// (a body of unknown length takes ReverseProxy), compared header by header.
func TestLeanRequestHeadersMatchReverseProxy(t *testing.T) {
	seen := make(chan http.Header, 2)
	p, _ := leanProxy(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		seen <- r.Header.Clone()
	})
	send := func(body io.Reader, variant func(http.Header)) http.Header {
		req := leanRequest(t, p, http.MethodPost, "/x?q=1", body)
		req.Header.Set("Connection", "X-Drop, keep-alive")
		req.Header.Set("X-Drop", "1")
		req.Header.Set("Keep-Alive", "timeout=5")
		req.Header.Set("Proxy-Authorization", "Basic eA==")
		req.Header.Set("Proxy-Connection", "keep-alive")
		req.Header.Set("Te", "trailers, deflate")
		req.Header.Set("Forwarded", "for=203.0.113.9")
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		req.Header.Set("X-Forwarded-Host", "evil.test")
		req.Header.Set("X-Real-Ip", "203.0.113.9")
		req.Header.Set("X-Forwarded-Port", "1")
		req.Header.Add("X-Keep", "a")
		req.Header.Add("X-Keep", "b")
		if variant != nil {
			variant(req.Header)
		}
		resp := roundTrip(t, req)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		h := guard(t, seen, "backend request")
		delete(h, "Content-Length")
		delete(h, "Accept-Encoding")
		return h
	}
	if leanEligible(&http.Request{ContentLength: -1, URL: &url.URL{}, Header: http.Header{}}) {
		t.Fatal("the premise: a body of unknown length takes ReverseProxy")
	}
	for name, variant := range map[string]func(http.Header){
		"Connection naming User-Agent": func(h http.Header) { h.Set("Connection", "X-Drop, User-Agent") },
		"no User-Agent":                func(h http.Header) { h["User-Agent"] = []string{""} }, // the client sends none
	} {
		lean := send(strings.NewReader("body"), variant)
		rp := send(io.MultiReader(strings.NewReader("body")), variant)
		if !reflect.DeepEqual(lean, rp) {
			t.Errorf("%s: lean sent\n%v\nReverseProxy sent\n%v", name, lean, rp)
		}
	}
	lean := send(strings.NewReader("body"), nil)               // known length: lean
	rp := send(io.MultiReader(strings.NewReader("body")), nil) // unknown length: ReverseProxy
	if !reflect.DeepEqual(lean, rp) {
		t.Errorf("lean sent\n%v\nReverseProxy sent\n%v", lean, rp)
	}
	for _, k := range []string{"X-Drop", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "Connection", "Forwarded"} {
		if _, ok := lean[k]; ok {
			t.Errorf("hop-by-hop or client forwarding header %s was passed on", k)
		}
	}
	if got := lean["Te"]; !reflect.DeepEqual(got, []string{"trailers"}) {
		t.Errorf("Te = %q, want [trailers]", got)
	}
	if got := lean["X-Keep"]; !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("X-Keep = %q", got)
	}
	if lean.Get("X-Forwarded-Host") != "lean.test" || lean.Get("X-Real-Ip") != "127.0.0.1" || lean.Get("X-Forwarded-For") != "127.0.0.1" {
		t.Errorf("forwarding headers not ours: %v", lean)
	}
}

func TestLeanResponseHopByHopAndTrailers(t *testing.T) {
	p, _ := leanProxy(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Resp-Drop")
		w.Header().Set("X-Resp-Drop", "1")
		w.Header().Set("Proxy-Authenticate", "Basic")
		w.Header().Set("X-Kept", "1")
		w.Header().Set("Trailer", "X-Checksum")
		_, _ = io.WriteString(w, "hello")
		w.Header().Set("X-Checksum", "abc")
		w.Header().Set(http.TrailerPrefix+"X-Late", "late") // not announced
	})
	resp := roundTrip(t, leanRequest(t, p, http.MethodGet, "/", nil))
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "hello" {
		t.Fatalf("body %q, %v", body, err)
	}
	for _, k := range []string{"X-Resp-Drop", "Proxy-Authenticate"} {
		if _, ok := resp.Header[k]; ok {
			t.Errorf("response hop-by-hop header %s was passed on", k)
		}
	}
	if resp.Header.Get("X-Kept") != "1" {
		t.Error("X-Kept lost")
	}
	if got := resp.Trailer.Get("X-Checksum"); got != "abc" {
		t.Errorf("announced trailer X-Checksum = %q, trailers %v", got, resp.Trailer)
	}
	if got := resp.Trailer.Get("X-Late"); got != "late" {
		t.Errorf("unannounced trailer X-Late = %q, trailers %v", got, resp.Trailer)
	}
}

// An event stream and a response of unknown length reach the client as they come:
// the header before any body, each write before the next is made.
func TestLeanFlushesStreams(t *testing.T) {
	for _, ct := range []string{"text/event-stream; charset=utf-8", "application/octet-stream"} {
		release, stop := make(chan struct{}), make(chan struct{})
		wait := func() bool {
			select {
			case <-release:
				return true
			case <-stop:
				return false
			}
		}
		p, _ := leanProxy(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			if !wait() {
				return
			}
			_, _ = io.WriteString(w, "data: 1\n\n")
			w.(http.Flusher).Flush()
			if !wait() {
				return
			}
			_, _ = io.WriteString(w, "data: 2\n\n")
		})
		// Runs before the servers' cleanups (last in, first out): a failed test must
		// not leave the handler blocked, or closing the backend would wait for ever.
		t.Cleanup(func() { close(stop) })
		got := make(chan *http.Response, 1)
		go func() {
			resp, err := http.DefaultTransport.RoundTrip(leanRequest(t, p, http.MethodGet, "/", nil))
			if err != nil {
				t.Error(err)
				close(got)
				return
			}
			got <- resp
		}()
		resp := guard(t, got, ct+": response header before any body")
		if resp == nil {
			return
		}
		release <- struct{}{}
		lines := make(chan string, 4)
		go func() {
			br := bufio.NewReader(resp.Body)
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					close(lines)
					return
				}
				lines <- l
			}
		}()
		if l := guard(t, lines, ct+": first event"); l != "data: 1\n" {
			t.Errorf("%s: first line %q", ct, l)
		}
		resp.Body.Close()
	}
}

// A body that breaks after the header went out aborts the client's response (the
// server sees http.ErrAbortHandler), and the exchange is settled all the same.
func TestLeanAbortsOnBodyCopyError(t *testing.T) {
	p, b := leanProxy(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close()
		}
	})
	// The client gets no complete response: the connection is cut, before the header
	// if it was still buffered (as with ReverseProxy), else within the body.
	resp, err := http.DefaultTransport.RoundTrip(leanRequest(t, p, http.MethodGet, "/", nil))
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Error("the client got a complete response from a broken upstream body")
	}
	waitInFlightZero(t, p, b.endpoint())

	// Under an http.Server (its context key present) the handler panics with
	// http.ErrAbortHandler, which the server recovers silently.
	func() {
		req := httptest.NewRequest(http.MethodGet, "http://lean.test/", nil)
		req.RemoteAddr = "198.51.100.7:5000"
		req = req.WithContext(context.WithValue(req.Context(), http.ServerContextKey, &http.Server{}))
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("panic %v, want http.ErrAbortHandler", p)
			}
		}()
		p.ServeHTTP(httptest.NewRecorder(), req)
	}()
	waitInFlightZero(t, p, b.endpoint())

	// Outside an http.Server nothing would recover the panic: as ReverseProxy, none.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "http://lean.test/", nil)
	req.RemoteAddr = "198.51.100.7:5000"
	p.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.String() != "partial" {
		t.Errorf("direct call: %d %q", rec.Code, rec.Body.String())
	}
}

func TestLeanForwardsEarlyHints(t *testing.T) {
	p, _ := leanProxy(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		_, _ = io.WriteString(w, "ok")
	})
	var hints []string
	req := leanRequest(t, p, http.MethodGet, "/", nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			hints = append(hints, h.Get("Link"))
			return nil
		},
	}))
	resp := roundTrip(t, req)
	if resp.StatusCode != http.StatusOK || len(hints) != 1 || hints[0] != "</style.css>; rel=preload" {
		t.Errorf("status %d, 103 hints %q", resp.StatusCode, hints)
	}
	if resp.Header.Get("Link") != "" {
		t.Error("the 103's header leaked into the final response")
	}
}

func TestLeanHeadAndNoBodyStatuses(t *testing.T) {
	p, _ := leanProxy(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/head":
			w.Header().Set("Content-Length", "5")
			w.WriteHeader(http.StatusOK)
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.WriteHeader(http.StatusNotModified)
		}
	})
	resp := roundTrip(t, leanRequest(t, p, http.MethodHead, "/head", nil))
	if resp.StatusCode != http.StatusOK || resp.ContentLength != 5 {
		t.Errorf("HEAD: %d, length %d", resp.StatusCode, resp.ContentLength)
	}
	for path, code := range map[string]int{"/204": http.StatusNoContent, "/304": http.StatusNotModified} {
		resp := roundTrip(t, leanRequest(t, p, http.MethodGet, path, nil))
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != code || len(body) != 0 {
			t.Errorf("%s: %d, body %q", path, resp.StatusCode, body)
		}
	}
}

// A pod that switches protocols unasked gets the answer ReverseProxy gives: 502.
func TestLeanRefusesUnrequestedSwitch(t *testing.T) {
	p, _ := leanProxy(t, func(w http.ResponseWriter, r *http.Request) {
		c, bw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		_, _ = bw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
		_ = bw.Flush()
		c.Close()
	})
	if resp := roundTrip(t, leanRequest(t, p, http.MethodGet, "/", nil)); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
}

// TestCopyRequestFieldsCopiesEveryField: every exported field of http.Request reaches
// the lean forwarder's outbound request, so that a field a new Go release adds is
// not silently left out.
func TestCopyRequestFieldsCopiesEveryField(t *testing.T) {
	var r http.Request
	rv := reflect.ValueOf(&r).Elem()
	for i := 0; i < rv.NumField(); i++ {
		f := rv.Field(i)
		if !rv.Type().Field(i).IsExported() {
			continue
		}
		// A non-zero value of the field's type: a fresh pointer, map, slice or
		// func, or a one for numbers, strings and bools.
		switch f.Kind() {
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		case reflect.Map:
			f.Set(reflect.MakeMap(f.Type()))
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		case reflect.Func:
			f.Set(reflect.MakeFunc(f.Type(), func([]reflect.Value) []reflect.Value { return nil }))
		case reflect.Interface:
			f.Set(reflect.ValueOf(http.NoBody))
		case reflect.Chan:
			both := reflect.ChanOf(reflect.BothDir, f.Type().Elem())
			f.Set(reflect.MakeChan(both, 0).Convert(f.Type()))
		case reflect.String:
			f.SetString("x")
		case reflect.Int, reflect.Int64:
			f.SetInt(1)
		case reflect.Bool:
			f.SetBool(true)
		default:
			t.Fatalf("field %s: kind %s not covered by this test", rv.Type().Field(i).Name, f.Kind())
		}
	}
	var out http.Request
	copyRequestFields(&out, &r)
	ov := reflect.ValueOf(&out).Elem()
	for i := 0; i < rv.NumField(); i++ {
		name := rv.Type().Field(i).Name
		if !rv.Type().Field(i).IsExported() {
			continue
		}
		a, b := rv.Field(i), ov.Field(i)
		same := false
		switch a.Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
			same = a.Pointer() == b.Pointer()
		default:
			same = a.Equal(b)
		}
		if !same {
			t.Errorf("copyRequestFields does not copy Request.%s", name)
		}
	}
}
