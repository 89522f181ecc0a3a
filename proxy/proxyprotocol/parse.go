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
	v2MaxLen = 16 + 216
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
	src, err := netip.ParseAddr(f[2])
	if err != nil || (f[1] == "TCP4") != src.Is4() {
		return netip.AddrPort{}, fmt.Errorf("proxyprotocol: v1 source address %q", f[2])
	}
	if _, err := netip.ParseAddr(f[3]); err != nil {
		return netip.AddrPort{}, fmt.Errorf("proxyprotocol: v1 destination address %q", f[3])
	}
	port, err := strconv.ParseUint(f[4], 10, 16)
	if err != nil || (len(f[4]) > 1 && f[4][0] == '0') {
		return netip.AddrPort{}, fmt.Errorf("proxyprotocol: v1 source port %q", f[4])
	}
	if _, err := strconv.ParseUint(f[5], 10, 16); err != nil {
		return netip.AddrPort{}, fmt.Errorf("proxyprotocol: v1 destination port %q", f[5])
	}
	return netip.AddrPortFrom(src, uint16(port)), nil
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
	if n > v2MaxLen {
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
