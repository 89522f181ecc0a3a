package affinity

import (
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// cookiePicker pins clients with a proxy-issued cookie. The token -> endpoint map is
// built at compile time for every verification key, so the request path does a map
// lookup, never an HMAC.
//
// Reading the request's cookies of the policy's name, in order:
//   - the first value that maps to an endpoint of this backend is the session;
//   - failing that, a value that has a token's shape, names a key of the ring, but
//     maps to no endpoint of the snapshot is a session whose endpoint is gone:
//     Rebalanced (new cookie) or, under Strict, StrictMiss (cookie kept, so the
//     session resumes if the endpoint returns);
//   - anything else (garbage, truncated, oversized, another backend's token, a key no
//     longer in the ring, such as a previous process's random key) is no session:
//     OutcomeNew.
//
// A hit sends no Set-Cookie (0 allocations, cacheable responses), except to re-sign a
// cookie issued under an older key, or when Options.SlidingCookies asks for it.
type cookiePicker struct {
	*pool
	policy  routetable.CookieAffinity
	strict  bool
	byToken map[string]int32
	keys    *KeyRing
	known   *tokenIndex
	now     func() time.Time
	sliding bool
	// issued holds each endpoint's last Set-Cookie (by endpoint index).
	issued []atomic.Pointer[issuedCookie]
}

// issuedCookie is the Set-Cookie last made for an endpoint, reused for requests of
// the same route path and scheme within the same second (Expires is written to the
// second). Building and serialising one per new session cost about half a
// microsecond and two allocations.
type issuedCookie struct {
	unix      int64
	routePath string
	tls       bool
	cookie    *http.Cookie
	values    []string // [the Set-Cookie value], capacity 1 (Decision.SetCookieValues)
}

var _ Picker = (*cookiePicker)(nil)

func newCookiePicker(p *pool, c routetable.CookieAffinity, strict bool, keys *KeyRing, opts Options) *cookiePicker {
	cp := &cookiePicker{
		pool:    p,
		policy:  c,
		strict:  strict,
		byToken: make(map[string]int32, len(p.eps)*keys.Len()),
		keys:    keys,
		known:   opts.known,
		now:     opts.Now,
		sliding: opts.SlidingCookies && c.MaxAge > 0,
		issued:  make([]atomic.Pointer[issuedCookie], len(p.eps)),
	}
	for i, e := range p.eps {
		ts := e.State.tokensFor(keys)
		e.Token = ts[0]
		for _, t := range ts {
			if _, dup := cp.byToken[t]; !dup {
				cp.byToken[t] = int32(i)
			}
		}
	}
	return cp
}

// session reads the request's cookies: the index of the pinned endpoint and the
// value it was found under, or gone when only a stale-looking token was seen.
func (p *cookiePicker) session(r *Request) (idx int, value string, gone bool) {
	if r == nil {
		return -1, "", false
	}
	s := newCookieScanner(r.HTTP, p.policy.Name)
	for {
		v, ok := s.next()
		if !ok {
			return -1, "", gone
		}
		if len(v) != tokenLen {
			continue
		}
		if i, ok := p.byToken[v]; ok {
			return int(i), v, false
		}
		if !gone && wellFormed(v) && p.keys.signedHere(v) {
			gone = !p.known.has(v)
		}
	}
}

// Pick implements Picker.
func (p *cookiePicker) Pick(r *Request) Decision {
	idx, value, gone := p.session(r)
	if idx >= 0 {
		e := p.eps[idx]
		if ok, draining := keeps(e, nil); ok {
			d := Decision{Endpoint: e, Outcome: OutcomeHit}
			if draining {
				d.Outcome = OutcomeDrained
			}
			if value != e.Token || p.sliding {
				d.Cookie, d.setCookie = p.issue(r, idx)
			}
			return d
		}
		return p.fallback(r, e)
	}
	if gone {
		return p.fallback(r, nil)
	}
	return p.fresh(r, nil, OutcomeNew)
}

// Retry implements Picker. A session pinned to failed is refused under Strict and
// re-pinned otherwise; a request without a session simply gets another new pick.
func (p *cookiePicker) Retry(r *Request, failed *Endpoint) Decision {
	idx, _, gone := p.session(r)
	pinned := idx >= 0 && sameEndpoint(p.eps[idx], failed)
	if pinned && p.strict {
		return Decision{Outcome: OutcomeStrictMiss}
	}
	if idx >= 0 || gone {
		return p.fresh(r, failed, OutcomeRebalanced)
	}
	return p.fresh(r, failed, OutcomeNew)
}

// fallback handles a session whose endpoint cannot serve (pinned, nil if gone).
func (p *cookiePicker) fallback(r *Request, pinned *Endpoint) Decision {
	if p.strict {
		return Decision{Outcome: OutcomeStrictMiss}
	}
	return p.fresh(r, pinned, OutcomeRebalanced)
}

// fresh pins the request to a new pick.
func (p *cookiePicker) fresh(r *Request, exclude *Endpoint, o Outcome) Decision {
	i := p.pickNewIndex(exclude)
	if i < 0 {
		return Decision{Outcome: OutcomeNoEndpoint}
	}
	d := Decision{Endpoint: p.eps[i], Outcome: o}
	d.Cookie, d.setCookie = p.issue(r, i)
	return d
}

// issue returns the cookie for the endpoint at idx and its Set-Cookie values: the
// ones made last for it when they fit this request (issuedCookie).
func (p *cookiePicker) issue(r *Request, idx int) (*http.Cookie, []string) {
	var routePath string
	var tls bool
	if r != nil {
		routePath, tls = r.RoutePath, r.TLS
	}
	var unix int64
	if p.policy.MaxAge > 0 {
		unix = p.now().Unix()
	}
	slot := &p.issued[idx]
	if c := slot.Load(); c != nil && c.unix == unix && c.routePath == routePath && c.tls == tls {
		return c.cookie, c.values
	}
	c := &issuedCookie{unix: unix, routePath: routePath, tls: tls, cookie: p.cookie(r, p.eps[idx])}
	c.values = []string{c.cookie.String()}
	slot.Store(c)
	return c.cookie, c.values
}

// cookie builds the Set-Cookie for e. Expires is computed here, per response: a
// value computed at compile time would be stale for every later response.
func (p *cookiePicker) cookie(r *Request, e *Endpoint) *http.Cookie {
	c := &http.Cookie{
		Name:     p.policy.Name,
		Value:    e.Token,
		Path:     p.policy.Path,
		Domain:   p.policy.Domain,
		HttpOnly: p.policy.HTTPOnly,
	}
	if c.Path == "" && r != nil {
		// A Prefix route "/shop/" also serves "/shop", which a cookie path "/shop/"
		// would not cover; cookie paths match element-wise like Prefix routes do.
		c.Path = strings.TrimRight(r.RoutePath, "/")
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if ma := p.policy.MaxAge; ma > 0 {
		c.MaxAge = int((ma + time.Second - 1) / time.Second)
		c.Expires = p.now().Add(ma).UTC()
	}
	switch p.policy.Secure {
	case routetable.SecureAlways:
		c.Secure = true
	case routetable.SecureNever:
	default:
		c.Secure = r != nil && r.TLS
	}
	switch p.policy.SameSite {
	case routetable.SameSiteLax:
		c.SameSite = http.SameSiteLaxMode
	case routetable.SameSiteStrict:
		c.SameSite = http.SameSiteStrictMode
	case routetable.SameSiteNone:
		// Browsers drop SameSite=None cookies that are not Secure.
		c.SameSite = http.SameSiteNoneMode
		c.Secure = true
	}
	return c
}

// lookup maps a cookie value to an endpoint of this picker (FuzzDecodeToken).
func (p *cookiePicker) lookup(v string) *Endpoint {
	if len(v) != tokenLen {
		return nil
	}
	if i, ok := p.byToken[v]; ok {
		return p.eps[i]
	}
	return nil
}
