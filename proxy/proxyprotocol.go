package proxy

import (
	"net"
	"time"

	"github.com/go-logr/logr"

	"github.com/sticky-ingress/sticky-ingress/proxy/proxyprotocol"
)

// newProxyProtocolListener expects a PROXY header on every connection; a malformed
// one closes the connection with a log line.
func newProxyProtocolListener(ln net.Listener, timeout time.Duration, log logr.Logger) net.Listener {
	return &proxyprotocol.Listener{Listener: ln, Timeout: timeout, OnError: func(peer net.Addr, err error) {
		log.Info("connection closed: bad PROXY protocol header", "peer", peer.String(), "error", err.Error())
	}}
}
