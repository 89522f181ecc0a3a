package proxyprotocol

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net/netip"
	"strings"
	"testing"
)

// V2Header builds a v2 PROXY header for tests (TCP over IPv4 or IPv6).
func v2Header(src, dst netip.AddrPort) []byte {
	var b bytes.Buffer
	b.Write(v2Signature)
	b.WriteByte(0x21) // version 2, PROXY
	if src.Addr().Is4() {
		b.WriteByte(0x11)
		_ = binary.Write(&b, binary.BigEndian, uint16(12))
		a, d := src.Addr().As4(), dst.Addr().As4()
		b.Write(a[:])
		b.Write(d[:])
	} else {
		b.WriteByte(0x21)
		_ = binary.Write(&b, binary.BigEndian, uint16(36))
		a, d := src.Addr().As16(), dst.Addr().As16()
		b.Write(a[:])
		b.Write(d[:])
	}
	_ = binary.Write(&b, binary.BigEndian, src.Port())
	_ = binary.Write(&b, binary.BigEndian, dst.Port())
	return b.Bytes()
}

// withTLV appends a TLV of n bytes of value to a v2 header and fixes its length.
func withTLV(h []byte, n int) []byte {
	h = append(h, 0xEA, byte(n>>8), byte(n)) // PP2_TYPE_AWS
	h = append(h, make([]byte, n)...)
	binary.BigEndian.PutUint16(h[14:16], uint16(len(h)-16))
	return h
}

func TestParse(t *testing.T) {
	local := append(append([]byte{}, v2Signature...), 0x20, 0x00, 0, 0)
	cases := []struct {
		name    string
		in      []byte
		want    string // "" = no address (LOCAL/UNKNOWN)
		wantErr bool
	}{
		{"v1 tcp4", []byte("PROXY TCP4 198.51.100.7 10.0.0.1 51000 443\r\nGET /"), "198.51.100.7:51000", false},
		{"v1 tcp6", []byte("PROXY TCP6 2001:db8::7 2001:db8::1 51000 443\r\n"), "[2001:db8::7]:51000", false},
		{"v1 unknown", []byte("PROXY UNKNOWN\r\n"), "", false},
		{"v2 ipv4", v2Header(netip.MustParseAddrPort("198.51.100.7:4000"), netip.MustParseAddrPort("10.0.0.1:80")), "198.51.100.7:4000", false},
		{"v2 ipv6", v2Header(netip.MustParseAddrPort("[2001:db8::7]:4000"), netip.MustParseAddrPort("[2001:db8::1]:80")), "[2001:db8::7]:4000", false},
		{"v2 local", local, "", false},
		{"no header", []byte("GET / HTTP/1.1\r\n\r\n"), "", true},
		{"v1 without CRLF", []byte("PROXY TCP4 198.51.100.7 10.0.0.1 51000 443" + strings.Repeat(" ", 100)), "", true},
		{"v1 family mismatch", []byte("PROXY TCP4 2001:db8::7 10.0.0.1 1 2\r\n"), "", true},
		{"v1 bad port", []byte("PROXY TCP4 198.51.100.7 10.0.0.1 99999 443\r\n"), "", true},
		{"v1 too few fields", []byte("PROXY TCP4 198.51.100.7\r\n"), "", true},
		{"v2 truncated", v2Header(netip.MustParseAddrPort("198.51.100.7:4000"), netip.MustParseAddrPort("10.0.0.1:80"))[:20], "", true},
		{"v1 zone", []byte("PROXY TCP6 fe80::7%eth0 2001:db8::1 51000 443\r\n"), "", true},
		{"v1 destination port with a leading zero", []byte("PROXY TCP4 198.51.100.7 10.0.0.1 51000 0443\r\n"), "", true},
		{"v1 signed port", []byte("PROXY TCP4 198.51.100.7 10.0.0.1 +5 443\r\n"), "", true},
		{"v1 destination family mismatch", []byte("PROXY TCP4 198.51.100.7 2001:db8::1 1 2\r\n"), "", true},
		{"v1 tcp6 with a mapped address", []byte("PROXY TCP6 ::ffff:198.51.100.7 ::1 1 2\r\n"), "[::ffff:198.51.100.7]:1", false},
		{"v2 with TLVs", withTLV(v2Header(netip.MustParseAddrPort("198.51.100.7:4000"), netip.MustParseAddrPort("10.0.0.1:80")), 300), "198.51.100.7:4000", false},
		{"v2 oversized block", withTLV(v2Header(netip.MustParseAddrPort("198.51.100.7:4000"), netip.MustParseAddrPort("10.0.0.1:80")), 4000), "", true},
		{"v2 unknown command", append(append([]byte{}, v2Signature...), 0x22, 0x11, 0, 0), "", true},
		{"v2 ipv4 block too short", append(append([]byte{}, v2Signature...), 0x21, 0x11, 0, 4, 1, 2, 3, 4), "", true},
		{"v2 unix family: no address", append(append([]byte{}, v2Signature...), 0x21, 0x31, 0, 0), "", false},
		{"empty", nil, "", true},
		{"v2 bad version", append(append([]byte{}, v2Signature...), 0x31, 0x11, 0, 0), "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(bufio.NewReader(bytes.NewReader(tc.in)))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("accepted %q as %v", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (tc.want == "" && got.IsValid()) || (tc.want != "" && got.String() != tc.want) {
				t.Fatalf("got %v, want %q", got, tc.want)
			}
		})
	}
}

func TestParseLeavesTheStreamAfterTheHeader(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("PROXY TCP4 198.51.100.7 10.0.0.1 51000 443\r\nGET / HTTP/1.1\r\n"))
	if _, err := Parse(br); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "GET / HTTP/1.1\r\n" {
		t.Fatalf("rest %q", rest)
	}
}

// FuzzParse: no input panics, exactly the header's bytes are consumed (what follows
// stays in the stream for HTTP), headers stay within their size bounds, and an accepted address is a plain IP (no zone, no
// IPv4-mapped surprises for a TCP4 header).
func FuzzParse(f *testing.F) {
	f.Add([]byte("PROXY TCP4 198.51.100.7 10.0.0.1 51000 443\r\nGET /"))
	f.Add([]byte("PROXY TCP6 2001:db8::7 2001:db8::1 51000 443\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add([]byte("PROXY TCP6 fe80::7%eth0 2001:db8::1 51000 443\r\n"))
	f.Add(v2Header(netip.MustParseAddrPort("198.51.100.7:4000"), netip.MustParseAddrPort("10.0.0.1:80")))
	f.Add(v2Header(netip.MustParseAddrPort("[2001:db8::7]:4000"), netip.MustParseAddrPort("[2001:db8::1]:80")))
	f.Add(withTLV(v2Header(netip.MustParseAddrPort("198.51.100.7:4000"), netip.MustParseAddrPort("10.0.0.1:80")), 40))
	f.Add(append(append([]byte{}, v2Signature...), 0x20, 0x00, 0, 0))
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const tail = "\x00TAIL"
		in := append(append([]byte{}, data...), tail...)
		br := bufio.NewReader(bytes.NewReader(in))
		got, err := Parse(br)
		if err != nil {
			return
		}
		rest, _ := io.ReadAll(br)
		consumed := len(in) - len(rest)
		want := -1 // the header's own length: not a byte more or less may be read
		if bytes.HasPrefix(in, v2Signature) {
			want = 16 + int(binary.BigEndian.Uint16(in[14:16]))
		} else if bytes.HasPrefix(in, []byte("PROXY ")) {
			want = bytes.Index(in, []byte("\r\n")) + 2
		}
		if consumed != want || consumed > 16+v2MaxBody || (in[0] == 'P' && consumed > v1MaxLen) {
			t.Fatalf("consumed %d bytes of %q, want %d", consumed, in, want)
		}
		if got.IsValid() && got.Addr().Zone() != "" {
			t.Fatalf("address with a zone from %q", data)
		}
		if got.IsValid() && bytes.HasPrefix(in, []byte("PROXY TCP4 ")) && !got.Addr().Is4() {
			t.Fatalf("TCP4 header gave %v", got)
		}
	})
}
