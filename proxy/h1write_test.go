package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// TestWriteRequestMatchesRequestWrite: what writeRequest sends reads back (as a pod's
// server reads it) the same as what req.Write sends.
func TestWriteRequestMatchesRequestWrite(t *testing.T) {
	mk := func(method, url string, body string, mutate func(*http.Request)) func() *http.Request {
		return func() *http.Request {
			var r io.Reader
			if body != "" {
				r = strings.NewReader(body)
			}
			req, err := http.NewRequest(method, url, r)
			if err != nil {
				t.Fatal(err)
			}
			if mutate != nil {
				mutate(req)
			}
			return req
		}
	}
	cases := map[string]func() *http.Request{
		"get":          mk("GET", "http://10.0.0.1:8080/a/b?x=1&y=%20", "", nil),
		"get empty ua": mk("GET", "http://10.0.0.1/", "", func(r *http.Request) { r.Header.Set("User-Agent", "") }),
		"get ua and headers": mk("GET", "http://10.0.0.1/p", "", func(r *http.Request) {
			r.Host = "shop.example:8443"
			r.Header.Set("User-Agent", "curl/8")
			r.Header["X-Multi"] = []string{"a", " b ", "c\r\nInjected: 1"}
			r.Header.Set("Cookie", "STICKY=abc; other=1")
		}),
		"post no body": mk("POST", "http://10.0.0.1/form", "", nil),
		"delete":       mk("DELETE", "http://10.0.0.1/x", "", nil),
		"put no body":  mk("PUT", "http://10.0.0.1/x", "", nil),
		"patch body":   mk("PATCH", "http://10.0.0.1/x", "{}", nil),
		"options":      mk("OPTIONS", "http://10.0.0.1/x", "", nil),
		"head":         mk("HEAD", "http://10.0.0.1/x", "", nil),
		"post body":    mk("POST", "http://10.0.0.1/form", "a=1&b=2", nil),
		"close":        mk("GET", "http://10.0.0.1/", "", func(r *http.Request) { r.Close = true }),
		"escaped path": mk("GET", "http://10.0.0.1/a%2Fb/c d", "", nil),
		"idn host":     mk("GET", "http://10.0.0.1/", "", func(r *http.Request) { r.Host = "bücher.example" }),
	}
	for name, newReq := range cases {
		t.Run(name, func(t *testing.T) {
			var want, got bytes.Buffer
			if err := newReq().Write(&want); err != nil {
				t.Fatal(err)
			}
			bw := bufio.NewWriter(&got)
			if err := writeRequest(bw, newReq()); err != nil {
				t.Fatal(err)
			}
			bw.Flush()
			ws, gs := want.String(), got.String()
			if w, g := readBack(t, &want), readBack(t, &got); !reflect.DeepEqual(w, g) {
				t.Fatalf("req.Write:\n%q\nwriteRequest:\n%q", ws, gs)
			}
		})
	}
}

type readRequestView struct {
	Method, RequestURI, Host, Body string
	Header                         http.Header
	ContentLength                  int64
	Close                          bool
}

func readBack(t *testing.T, b *bytes.Buffer) readRequestView {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 0 {
		t.Fatalf("%d bytes past the request", b.Len())
	}
	return readRequestView{req.Method, req.RequestURI, req.Host, string(body), req.Header, req.ContentLength, req.Close}
}

func TestWriteRequestShortBody(t *testing.T) {
	req, _ := http.NewRequest("POST", "http://10.0.0.1/", strings.NewReader("abc"))
	req.ContentLength = 5
	if err := writeRequest(bufio.NewWriter(io.Discard), req); err == nil {
		t.Fatal("a body shorter than its ContentLength was written without error")
	}
}

func TestWriteRequestURIMatchesRequestURI(t *testing.T) {
	for _, u := range []*url.URL{
		{Path: "/a/b"},
		{Path: ""},
		{Path: "/a b", RawQuery: "q=1&r=%20"},
		{Path: "/a/b", RawPath: "/a%2Fb"},
		{Path: "/x", ForceQuery: true},
		{Opaque: "/opaque/path", RawQuery: "q"},
		{Scheme: "http", Opaque: "//host/path"},
		{RawQuery: "only=query"},
	} {
		var b bytes.Buffer
		bw := bufio.NewWriter(&b)
		writeRequestURI(bw, u)
		_ = bw.Flush()
		if got, want := b.String(), u.RequestURI(); got != want {
			t.Errorf("%#v: wrote %q, RequestURI is %q", u, got, want)
		}
	}
}
