package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// accessLine is one access-log record (JSON, one per line).
type accessLine struct {
	Time     string  `json:"time"`
	Client   string  `json:"client"`
	Method   string  `json:"method"`
	Host     string  `json:"host"`
	Path     string  `json:"path"`
	Status   int     `json:"status"`
	Bytes    int64   `json:"bytes"`
	Duration float64 `json:"duration_ms"`
	Backend  string  `json:"backend"`
	Endpoint string  `json:"endpoint,omitempty"`
	Upstream string  `json:"upstream,omitempty"`
	Affinity string  `json:"affinity"`
	Retried  bool    `json:"retried,omitempty"`
}

var (
	accessMu   sync.Mutex
	accessBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

func (s *Server) writeAccessLog(r *http.Request, x *exchange, w *statusWriter, d time.Duration) {
	line := accessLine{
		Time: time.Now().UTC().Format(time.RFC3339Nano), Client: x.clientIP.String(), Method: r.Method,
		Host: r.Host, Path: r.URL.Path, Status: w.code(), Bytes: w.bytes,
		Duration: float64(d.Microseconds()) / 1000, Backend: x.backend.name,
		Affinity: x.decision.Outcome.String(), Retried: x.retried,
	}
	if ep := x.decision.Endpoint; ep != nil {
		line.Endpoint, line.Upstream = ep.ID, ep.Address
	}
	buf := accessBufs.Get().(*bytes.Buffer)
	buf.Reset()
	_ = json.NewEncoder(buf).Encode(&line)
	accessMu.Lock()
	_, _ = s.opts.AccessLog.Write(buf.Bytes())
	accessMu.Unlock()
	accessBufs.Put(buf)
}
