package affinity

import (
	"net/netip"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// sourceIPPicker hashes the client address, masked to a prefix (IPv4 /24 is nginx's
// ip_hash: clients behind one NAT pool or carrier range stay together). IPv4-mapped
// IPv6 addresses count as IPv4, so a dual-stack listener sees one client as one key.
type sourceIPPicker struct {
	*hashing
	v4, v6 int
}

var _ Picker = (*sourceIPPicker)(nil)

func newSourceIPPicker(h *hashing, s routetable.SourceIPAffinity) *sourceIPPicker {
	p := &sourceIPPicker{hashing: h, v4: s.IPv4PrefixLength, v6: s.IPv6PrefixLength}
	if p.v4 <= 0 || p.v4 > 32 {
		p.v4 = 32
	}
	if p.v6 <= 0 || p.v6 > 128 {
		p.v6 = 128
	}
	return p
}

// key hashes the masked client address. An unknown address is no key.
func (p *sourceIPPicker) key(r *Request) (uint64, bool) {
	if r == nil || !r.ClientIP.IsValid() {
		return 0, false
	}
	a := r.ClientIP.Unmap().WithZone("")
	if a.Is4() {
		b := netip.PrefixFrom(a, p.v4).Masked().Addr().As4()
		return fnv1aBytes(b[:]), true
	}
	b := netip.PrefixFrom(a, p.v6).Masked().Addr().As16()
	return fnv1aBytes(b[:]), true
}

// Pick implements Picker.
func (p *sourceIPPicker) Pick(r *Request) Decision {
	k, ok := p.key(r)
	return p.decide(k, ok, nil)
}

// Retry implements Picker.
func (p *sourceIPPicker) Retry(r *Request, failed *Endpoint) Decision {
	k, ok := p.key(r)
	return p.decide(k, ok, failed)
}
