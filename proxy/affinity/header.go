package affinity

import (
	"net/textproto"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// headerPicker hashes a request attribute: a header, an application cookie (nginx's
// $cookie_NAME) or a query parameter ($arg_NAME). The first non-empty value is the
// key; a request without one is load-balanced (OutcomeNew) and so not sticky.
type headerPicker struct {
	*hashing
	source routetable.KeySource
	name   string // canonical for headers: indexed directly, no per-request canonicalization
}

var _ Picker = (*headerPicker)(nil)

func newHeaderPicker(h *hashing, a routetable.HeaderAffinity) *headerPicker {
	p := &headerPicker{hashing: h, source: a.Source, name: a.Name}
	if p.source == "" || p.source == routetable.KeyFromHeader {
		p.source = routetable.KeyFromHeader
		p.name = textproto.CanonicalMIMEHeaderKey(a.Name)
	}
	return p
}

func (p *headerPicker) key(r *Request) (uint64, bool) {
	if r == nil {
		return 0, false
	}
	var v string
	var ok bool
	switch p.source {
	case routetable.KeyFromCookie:
		v, ok = firstCookie(r.HTTP, p.name)
	case routetable.KeyFromQuery:
		v, ok = firstQuery(r.HTTP, p.name)
	default:
		v, ok = firstHeader(r.HTTP, p.name)
	}
	if !ok {
		return 0, false
	}
	return fnv1a(v), true
}

// Pick implements Picker.
func (p *headerPicker) Pick(r *Request) Decision {
	k, ok := p.key(r)
	return p.decide(k, ok, nil)
}

// Retry implements Picker.
func (p *headerPicker) Retry(r *Request, failed *Endpoint) Decision {
	k, ok := p.key(r)
	return p.decide(k, ok, failed)
}
