package proxy

import (
	"context"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// tunnels tracks upgraded connections (WebSockets). http.Server.Shutdown neither
// waits for nor closes hijacked connections, so without this a shutdown would return
// while tunnels run and the process exit would cut them mid-message. Instead they
// get what is left of the shutdown timeout to end by themselves; then their requests'
// contexts are cancelled, on which ReverseProxy closes both sides.
type tunnels struct {
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

func newTunnels() *tunnels {
	t := &tunnels{}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	return t
}

// isUpgrade reports whether r asks to switch protocols (Connection: upgrade and an
// Upgrade header), as ReverseProxy will forward it.
func isUpgrade(r *http.Request) bool {
	return len(r.Header["Upgrade"]) > 0 && httpguts.HeaderValuesContainsToken(r.Header["Connection"], "Upgrade")
}

// track counts r as a tunnel and returns it with a context that ends when the tunnels
// are closed at shutdown. Call done when the handler returns.
func (t *tunnels) track(r *http.Request) (_ *http.Request, done func()) {
	t.wg.Add(1)
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(t.ctx, cancel)
	return r.WithContext(ctx), func() {
		stop()
		cancel()
		t.wg.Done()
	}
}

// close waits for the tunnels until the deadline of ctx, then closes those left and
// waits (briefly) for their handlers to return. It reports whether any was cut.
func (t *tunnels) close(ctx context.Context) (cut bool) {
	ended := make(chan struct{})
	go func() { t.wg.Wait(); close(ended) }()
	select {
	case <-ended:
		return false
	case <-ctx.Done():
	}
	t.cancel()
	select {
	case <-ended:
	case <-time.After(time.Second):
	}
	return true
}
