//go:build pprof

// Profiling for benchmark runs only: built with -tags pprof, a binary serves
// net/http/pprof on $STICKY_INGRESS_PPROF_ADDR (loopback, e.g. 127.0.0.1:6060).
// Ordinary builds contain none of this: the endpoint is unauthenticated.
package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if addr := os.Getenv("STICKY_INGRESS_PPROF_ADDR"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}
