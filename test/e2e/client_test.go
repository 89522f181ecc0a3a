//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sync"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

type (
	clientObject      = client.Object
	networkingIngress = networkingv1.Ingress
)

// user is one HTTP client: its own source address and cookie jar.
type user struct {
	http *http.Client
	// jar is keyed by the virtual host, not the proxy's address the request goes to.
	jar http.CookieJar
}

func jarURL(host string) *url.URL { return &url.URL{Scheme: "http", Host: host, Path: "/"} }

// newUser makes a client whose connections come from srcIP (inside 198.18.0.0/16).
func newUser(srcIP string) *user {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(srcIP)}}
	return &user{jar: jar, http: &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DialContext:       d.DialContext,
			DisableKeepAlives: true, // every request is a new connection, as a new client's would be
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is what a test reads back.
type response struct {
	status  int
	server  string
	cookies []*http.Cookie
	header  http.Header
}

// get sends GET http://<proxy>/path with the given Host and headers.
func (u *user) get(t *testing.T, c *controller, host, path string, headers ...string) response {
	t.Helper()
	r, err := u.try(c, host, path, headers...)
	if err != nil {
		t.Fatalf("GET %s%s via %s: %v", host, path, c.name, err)
	}
	return r
}

func (u *user) try(c *controller, host, path string, headers ...string) (response, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+c.httpAddr+path, nil)
	if err != nil {
		return response{}, err
	}
	req.Host = host
	for _, ck := range u.jar.Cookies(jarURL(host)) {
		req.AddCookie(ck)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := u.http.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	u.jar.SetCookies(jarURL(host), resp.Cookies())
	return response{status: resp.StatusCode, server: resp.Header.Get("X-Server-Id"), cookies: resp.Cookies(), header: resp.Header}, nil
}

// eventually retries fn (bounded) until it returns nil.
func eventually(t *testing.T, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("not true after %s: %v", timeout, err)
}

// routed waits until host answers 200 through c from one of the backends.
func routed(t *testing.T, c *controller, host string) {
	t.Helper()
	probe := newUser("198.18.100.1")
	eventually(t, 15*time.Second, func() error {
		r, err := probe.try(c, host, "/")
		if err != nil {
			return err
		}
		if r.status != http.StatusOK {
			return fmt.Errorf("status %d", r.status)
		}
		return nil
	})
}

// startLoad calls step(i) over and over on one goroutine per user i until the
// returned stop is called. stop waits for the goroutines to end and may be called
// more than once: deferred, for a test that stops early, and where the load ends.
func startLoad(users int, step func(i int)) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				step(i)
			}
		}()
	}
	return sync.OnceFunc(func() { close(done); wg.Wait() })
}
