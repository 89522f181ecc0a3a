package proxy

import (
	"log"
	"strings"

	"github.com/go-logr/logr"
)

// newServerErrorLog routes net/http's internal error messages (TLS handshake errors,
// malformed requests) into the structured log at debug level: they are the clients'
// problems, not ours, and a scanner on the internet would otherwise flood the log.
func newServerErrorLog(l logr.Logger) *log.Logger {
	return log.New(logWriter{l.V(1)}, "", 0)
}

type logWriter struct{ l logr.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Info(strings.TrimSpace(string(p)))
	return len(p), nil
}
