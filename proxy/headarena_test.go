package proxy

import (
	"bytes"
	"strings"
	"testing"
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
	if s := a.string(big); s != string(big) || len(a.free) == 0 {
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
