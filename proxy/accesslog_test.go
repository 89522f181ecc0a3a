package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// syncBuffer is an io.Writer the test can read while the proxy writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func TestAccessLog(t *testing.T) {
	a := startBackend(t, "a", nil)
	var buf syncBuffer
	p := startProxy(t, oneHost("log.test", backendsOf(a), cookieAffinity()), func(o *Options) { o.AccessLog = &buf })
	ck, _ := pinnedTo(t, p, "log.test")
	p.get(t, "log.test", "Cookie", "STICKY="+ck)
	p.get(t, "nothing.test")

	var lines []string
	for deadline := time.Now().Add(3 * time.Second); len(lines) < 3 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond) // the client can see a response before its line is written
		lines = buf.lines()
	}
	if len(lines) != 3 {
		t.Fatalf("%d lines: %q", len(lines), lines)
	}
	var notFound map[string]any
	if err := json.Unmarshal([]byte(lines[2]), &notFound); err != nil {
		t.Fatal(err)
	}
	if notFound["status"] != 404.0 || notFound["host"] != "nothing.test" || notFound["backend"] != nil {
		t.Errorf("404 line %s", lines[2])
	}
	for i, want := range []string{"new", "hit"} {
		var rec map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &rec); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, lines[i])
		}
		for k, v := range map[string]any{
			"client": "127.0.0.1", "method": "GET", "host": "log.test", "path": "/", "status": 200.0,
			"bytes": 1.0, "backend": "ns/web:80", "endpoint": "uid-a", "upstream": a.endpoint().Address, "affinity": want,
		} {
			if rec[k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, rec[k], v)
			}
		}
		if _, err := time.Parse(time.RFC3339Nano, rec["time"].(string)); err != nil {
			t.Errorf("line %d: time %v", i, rec["time"])
		}
		if d, ok := rec["duration_ms"].(float64); !ok || d < 0 {
			t.Errorf("line %d: duration_ms %v", i, rec["duration_ms"])
		}
	}
}

// TestAppendJSONString agrees with encoding/json on what a string decodes to.
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote\back`, "tab\tnl\ncr\r", "\x00\x1f\x7f", "ünïcødé ✓", "bad \xff utf8", "<&>", strings.Repeat("x", 300)} {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q -> %s: %v", s, b, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if got != want {
			t.Errorf("%q -> %s -> %q", s, b, got)
		}
		if !utf8.Valid(b) {
			t.Errorf("%q -> invalid UTF-8", s)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("plain")
	f.Add("bad \xff\xfe utf8 \"\\\x00")
	f.Fuzz(func(t *testing.T, s string) {
		var got string
		if err := json.Unmarshal(appendJSONString(nil, s), &got); err != nil {
			t.Fatal(err)
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); got != want {
			// ToValidUTF8 folds a run of bad bytes into one replacement; we replace
			// each byte, as encoding/json does.
			var std string
			enc, _ := json.Marshal(s)
			_ = json.Unmarshal(enc, &std)
			if got != std {
				t.Fatalf("%q: got %q, encoding/json %q", s, got, std)
			}
		}
	})
}
