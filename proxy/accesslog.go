package proxy

import (
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// accessLog writes one JSON object per request:
//
//	{"time":"2026-01-02T15:04:05.123Z","client":"198.51.100.7","method":"GET",
//	 "host":"shop.example.com","path":"/cart","status":200,"bytes":512,
//	 "duration_ms":1.234,"backend":"shop/cart:80","endpoint":"<pod uid>",
//	 "upstream":"10.0.0.7:8080","affinity":"hit","retried":true}
//
// endpoint and upstream are left out when no endpoint was picked; retried only
// appears when a connect failure was retried; requests that no route matched (404)
// or that came before the first route table (503) have no backend and no affinity. Lines are built by appending into
// pooled buffers (no reflection, no allocation) and written whole under a lock, so
// that lines from concurrent requests never interleave on a shared writer.
type accessLog struct {
	w  io.Writer
	mu sync.Mutex
}

var accessBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (l *accessLog) write(r *http.Request, x *exchange, status int, d time.Duration) {
	bp := accessBufs.Get().(*[]byte)
	b := appendAccessLine((*bp)[:0], r, x, status, d, time.Now())
	l.mu.Lock()
	_, _ = l.w.Write(b)
	l.mu.Unlock()
	*bp = b
	accessBufs.Put(bp)
}

func appendAccessLine(b []byte, r *http.Request, x *exchange, status int, d time.Duration, now time.Time) []byte {
	b = append(b, `{"time":"`...)
	b = now.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","client":"`...)
	if x.clientIP.IsValid() {
		b = x.clientIP.AppendTo(b)
	}
	b = append(b, `","method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"host":`...)
	b = appendJSONString(b, r.Host)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, r.URL.Path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, x.rw.bytes, 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(d.Microseconds())/1000, 'f', -1, 64)
	if x.backend == nil { // no route (404) or no route table yet (503)
		return append(b, "}\n"...)
	}
	b = append(b, `,"backend":`...)
	b = appendJSONString(b, x.backend.name)
	if ep := x.decision.Endpoint; ep != nil {
		b = append(b, `,"endpoint":`...)
		b = appendJSONString(b, ep.ID)
		b = append(b, `,"upstream":`...)
		b = appendJSONString(b, ep.Address)
	}
	b = append(b, `,"affinity":"`...)
	b = append(b, x.decision.Outcome.String()...)
	b = append(b, '"')
	if x.retried {
		b = append(b, `,"retried":true`...)
	}
	return append(b, "}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does; <, > and & are left alone (this is a log, not HTML).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
