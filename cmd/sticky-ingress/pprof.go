//go:build pprof

// Profiling for benchmark runs only: built with -tags pprof, a binary serves
// net/http/pprof on $STICKY_INGRESS_PPROF_ADDR (loopback, e.g. 127.0.0.1:6060).
// Ordinary builds contain none of this: the endpoint is unauthenticated. With
// --workers, worker i serves on the port after the supervisor's plus i, as the
// requests are served there (6061, 6062, … for 6060).
package main

import (
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"strconv"

	"github.com/sticky-ingress/sticky-ingress/proxy/workers"
)

func init() {
	addr := os.Getenv("STICKY_INGRESS_PPROF_ADDR")
	if addr == "" {
		return
	}
	if i := workers.Index(); i >= 0 {
		host, port, err := net.SplitHostPort(addr)
		n, perr := strconv.Atoi(port)
		if err != nil || perr != nil {
			return
		}
		addr = net.JoinHostPort(host, strconv.Itoa(n+1+i))
	}
	go func() { _ = http.ListenAndServe(addr, nil) }()
}
