// Package proxyprotocol reads the PROXY protocol header (v1 text and v2 binary) that a
// load balancer puts in front of a TCP stream to say who the client really is.
package proxyprotocol

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// v2Signature opens every version 2 header.
var v2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

const (
	v1MaxLen = 107 // the longest v1 line, CRLF included
	// v2MaxBody bounds the address block and its TLVs. The specification's
	// addresses fill at most 216 bytes; load balancers append TLVs (AWS its VPC
	// endpoint, others TLS details), so allow room for those but not for a header
	// that would make every connection cost 64 KiB.
	v2MaxBody = 2048
)

// ErrNoHeader: the stream does not start with a PROXY header.
var ErrNoHeader = errors.New("proxyprotocol: no PROXY header")

// Parse consumes a PROXY header from r. It returns the client's address, or an
// invalid AddrPort for headers that carry none (v1 UNKNOWN, v2 LOCAL: health checks
// from the load balancer itself), in which case the connection's own peer stands.
func Parse(r *bufio.Reader) (netip.AddrPort, error) {
	peek, err := r.Peek(len(v2Signature))
	if err != nil && len(peek) < 6 {
		return netip.AddrPort{}, fmt.Errorf("proxyprotocol: reading header: %w", err)
	}
	if bytes.HasPrefix(peek, []byte("PROXY ")) {
		return parseV1(r)
	}
	if bytes.Equal(peek, v2Signature) {
		return parseV2(r)
	}
	return netip.AddrPort{}, ErrNoHeader
}

func parseV1(r *bufio.Reader) (netip.AddrPort, error) {
	var line []byte
	for len(line) < v1MaxLen {
		b, err := r.ReadByte()
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("proxyprotocol: v1 header: %w", err)
		}
		line = append(line, b)
		if b == '\n' {
			break
		}
	}
	s, ok := strings.CutSuffix(string(line), "\r\n")
	if !ok {
		return netip.AddrPort{}, errors.New("proxyprotocol: v1 header not ended by CRLF within 107 bytes")
	}
	f := strings.Split(s, " ")
	if len(f) >= 2 && f[1] == "UNKNOWN" {
		return netip.AddrPort{}, nil
	}
	if len(f) != 6 || (f[1] != "TCP4" && f[1] != "TCP6") {
		return netip.AddrPort{}, fmt.Errorf("proxyprotocol: malformed v1 header %q", s)
	}
	v4 := f[1] == "TCP4"
	src, ok := v1Addr(f[2], v4)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("proxyprotocol: v1 source address %q", f[2])
	}
	if _, ok := v1Addr(f[3], v4); !ok {
		return netip.AddrPort{}, fmt.Errorf("proxyprotocol: v1 destination address %q", f[3])
	}
	port, ok := v1Port(f[4])
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("proxyprotocol: v1 source port %q", f[4])
	}
	if _, ok := v1Port(f[5]); !ok {
		return netip.AddrPort{}, fmt.Errorf("proxyprotocol: v1 destination port %q", f[5])
	}
	return netip.AddrPortFrom(src, port), nil
}

// v1Addr parses an address of the family the header names. Zones are refused: the
// specification has none, and a zone would make one client several hash keys.
func v1Addr(s string, v4 bool) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is4() != v4 {
		return netip.Addr{}, false
	}
	return a, true
}

// v1Port parses a decimal port without sign or leading zeros, as the specification
// writes them.
func v1Port(s string) (uint16, bool) {
	if s == "" || (len(s) > 1 && s[0] == '0') || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err == nil
}

func parseV2(r *bufio.Reader) (netip.AddrPort, error) {
	var hdr [16]byte
	if _, err := ioReadFull(r, hdr[:]); err != nil {
		return netip.AddrPort{}, fmt.Errorf("proxyprotocol: v2 header: %w", err)
	}
	verCmd, fam := hdr[12], hdr[13]
	n := int(binary.BigEndian.Uint16(hdr[14:16]))
	if verCmd>>4 != 2 {
		return netip.AddrPort{}, fmt.Errorf("proxyprotocol: v2 version %d", verCmd>>4)
	}
	if n > v2MaxBody {
		return netip.AddrPort{}, fmt.Errorf("proxyprotocol: v2 address block of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := ioReadFull(r, body); err != nil {
		return netip.AddrPort{}, fmt.Errorf("proxyprotocol: v2 addresses: %w", err)
	}
	switch verCmd & 0xF {
	case 0x0: // LOCAL
		return netip.AddrPort{}, nil
	case 0x1: // PROXY
	default:
		return netip.AddrPort{}, fmt.Errorf("proxyprotocol: v2 command %d", verCmd&0xF)
	}
	switch fam >> 4 {
	case 0x1: // AF_INET
		if n < 12 {
			return netip.AddrPort{}, errors.New("proxyprotocol: v2 IPv4 block too short")
		}
		src := netip.AddrFrom4([4]byte(body[0:4]))
		return netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[8:10])), nil
	case 0x2: // AF_INET6
		if n < 36 {
			return netip.AddrPort{}, errors.New("proxyprotocol: v2 IPv6 block too short")
		}
		src := netip.AddrFrom16([16]byte(body[0:16]))
		return netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[32:34])), nil
	default: // AF_UNSPEC, AF_UNIX: no IP address to report
		return netip.AddrPort{}, nil
	}
}

func ioReadFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
