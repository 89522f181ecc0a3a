package proxy

import (
	"bytes"
	"strings"
	"testing"
	"unsafe"
)

// Strings from the arena keep their bytes while the source and the arena move on,
// and a head larger than a quarter chunk gets an allocation of its own.
func TestHeadArenaStringsStayWhole(t *testing.T) {
	var a headArena
	src := make([]byte, 300)
	var got, want []string
	for i := range 40 { // several chunks' worth
		for j := range src {
			src[j] = byte('a' + (i+j)%26)
		}
		got = append(got, a.string(src))
		want = append(want, string(src))
	}
	clear(src)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("string %d changed: %q", i, got[i])
		}
	}
	big := bytes.Repeat([]byte("x"), headArenaChunk)
	if s := a.string(big); s != string(big) || a.used == len(a.chunk) {
		t.Fatal("a large head was not made apart from the chunk")
	}
	var none *headArena
	if s := none.string([]byte("GET")); s != "GET" {
		t.Fatalf("nil arena: %q", s)
	}
	if s := a.string(nil); s != "" {
		t.Fatalf("empty: %q", s)
	}
}

func TestHeadArenaAllocatesOncePerChunk(t *testing.T) {
	var a headArena
	head := []byte(strings.Repeat("h", 200))
	n := testing.AllocsPerRun(1000, func() { _ = a.string(head) })
	if want := 200.0 / headArenaChunk * 1.5; n > want {
		t.Fatalf("%.3f allocations per 200-byte head, want at most %.3f", n, want)
	}
}

// Rewinding gives back the bytes made since the last keep, and only those: the next
// strings take them, and the kept ones stay whole. Poisoned, the bytes given back
// are overwritten and never reused.
func TestHeadArenaRewindReusesOnlyWhatWasNotKept(t *testing.T) {
	for _, poison := range []bool{false, true} {
		t.Run(map[bool]string{false: "reuse", true: "poison"}[poison], func(t *testing.T) {
			was := poisonRewoundHeads.Swap(poison)
			t.Cleanup(func() { poisonRewoundHeads.Store(was) })
			var a headArena
			kept := a.string([]byte("GET /kept HTTP/1.1\r\n"))
			a.keep()
			done := a.string([]byte("GET /done HTTP/1.1\r\n"))
			a.rewind()
			next := a.string([]byte("GET /next HTTP/1.1\r\n"))
			if kept != "GET /kept HTTP/1.1\r\n" || next != "GET /next HTTP/1.1\r\n" {
				t.Fatalf("kept %q, next %q", kept, next)
			}
			reused := unsafe.StringData(next) == unsafe.StringData(done)
			switch {
			case !poison && !reused:
				t.Fatal("the rewound bytes were not reused")
			case poison && reused:
				t.Fatal("poisoned bytes were reused")
			case poison && done != strings.Repeat("\xff", len(done)):
				t.Fatalf("the rewound string was not poisoned: %q", done)
			}
		})
	}
}

// A connection that rewinds after each request makes no garbage: one chunk serves
// every request.
func TestHeadArenaRewoundAllocatesNothing(t *testing.T) {
	was := poisonRewoundHeads.Swap(false)
	t.Cleanup(func() { poisonRewoundHeads.Store(was) })
	var a headArena
	request, response := []byte(strings.Repeat("q", 300)), []byte(strings.Repeat("r", 300))
	n := testing.AllocsPerRun(1000, func() {
		_, _ = a.string(request), a.string(response)
		a.rewind()
	})
	if n != 0 {
		t.Fatalf("%.3f allocations per rewound request, want 0", n)
	}
}

// What a connection keeps from one request for the next, made from the request's
// head, must be a copy: the head's bytes go to the next request.
func TestConnectionValuesOutliveTheirHeads(t *testing.T) {
	var a headArena
	ci := &connInfo{}
	v := ci.forwardedHostHeader(a.string([]byte("shop.example")))
	a.rewind() // poisoned in the proxy's tests
	if v[0] != "shop.example" || (*ci.hostHeader.Load())[0] != "shop.example" {
		t.Fatalf("the connection's X-Forwarded-Host changed with its head: %q", v[0])
	}
}
