package annotations

import (
	"strings"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

const (
	wantBool     = "is not a boolean (want true or false)"
	wantSameSite = "is not a SameSite value (want Strict, Lax or None)"
)

// cookie reads the cookie attributes, native first, nginx twins second; used lists
// the annotations that set something.
func (p *parser) cookie(nginxDefaults bool) (c routetable.CookieAffinity, used []string) {
	c = routetable.CookieAffinity{
		Name:     DefaultCookieName,
		Secure:   routetable.SecureAuto,
		HTTPOnly: true,
		SameSite: routetable.SameSiteLax,
	}
	if nginxDefaults {
		c.Name = DefaultNginxCookieName
	}
	if k, v, ok := p.pick(KeyCookieName, NginxSessionCookieName); ok {
		used = append(used, k)
		if IsCookieName(v) {
			c.Name = v
		} else {
			p.add(k, v, Error, "is not a cookie name (want at most 128 letters, digits and !#$%&'*+-.^_|~)")
		}
	}
	if k, v, ok := p.pick(KeyCookiePath, NginxSessionCookiePath); ok {
		used = append(used, k)
		if IsCookiePath(v) {
			c.Path = v
		} else {
			p.add(k, v, Error, "is not a cookie path (want an absolute path without ; or spaces, like /shop)")
		}
	}
	if k, v, ok := p.pick(KeyCookieDomain, NginxSessionCookieDomain); ok {
		used = append(used, k)
		if d := strings.ToLower(v); IsCookieDomain(d) {
			c.Domain = d
		} else {
			p.add(k, v, Error, "is not a cookie domain (want a DNS name like example.com or .example.com)")
		}
	}
	// Browsers prefer Max-Age over Expires, and ingress-nginx sends both; one MaxAge
	// here stands for both.
	if k, v, ok := p.pick(KeyCookieMaxAge, NginxSessionCookieMaxAge, NginxSessionCookieExpires); ok {
		used = append(used, k)
		if d, msg := ParseMaxAge(v); msg == "" {
			c.MaxAge = d
		} else {
			p.add(k, v, Error, msg)
		}
	}
	secureKey := ""
	if k, v, ok := p.pick(KeyCookieSecure, NginxSessionCookieSecure); ok {
		used = append(used, k)
		secureKey = k
		if k == KeyCookieSecure {
			if s, ok := parseSecure(v); ok {
				c.Secure = s
			} else {
				p.add(k, v, Error, "is not a Secure mode (want auto, true or false)")
			}
		} else {
			// ingress-nginx: unset follows the scheme (our auto); false means never.
			if b, ok := parseBool(v); !ok {
				p.add(k, v, Error, wantBool)
			} else if b {
				c.Secure = routetable.SecureAlways
			} else {
				c.Secure = routetable.SecureNever
			}
		}
	}
	if v, ok := p.lookup(KeyCookieHTTPOnly); ok {
		used = append(used, KeyCookieHTTPOnly)
		if b, ok := parseBool(v); ok {
			c.HTTPOnly = b
		} else {
			p.add(KeyCookieHTTPOnly, v, Error, wantBool)
		}
	}
	if k, v, ok := p.pick(KeyCookieSameSite, NginxSessionCookieSameSite); ok {
		used = append(used, k)
		if s, ok := parseSameSite(v); !ok {
			p.add(k, v, Error, wantSameSite)
		} else {
			c.SameSite = s
			if s == routetable.SameSiteNone {
				// Browsers drop SameSite=None cookies that are not Secure.
				if c.Secure == routetable.SecureNever {
					p.add(k, v, Error, "needs a Secure cookie, but "+secureKey+" is "+`"`+p.ann[secureKey]+`"`)
				}
				c.Secure = routetable.SecureAlways
			}
		}
	}
	if v, ok := p.lookup(NginxAffinityMode); ok {
		used = append(used, NginxAffinityMode)
		if !isNginxAffinityMode(v) {
			p.add(NginxAffinityMode, v, Error, "is not an affinity mode (want balanced, persistent or persistent-drainable)")
		}
	}
	return c, used
}

func (p *parser) conditionalSameSiteNone() bool {
	v, ok := p.lookup(NginxSessionCookieConditionalSameSiteNone)
	if !ok {
		return false
	}
	b, ok := parseBool(v)
	if !ok {
		p.add(NginxSessionCookieConditionalSameSiteNone, v, Error, wantBool)
		return false
	}
	if b {
		p.add(NginxSessionCookieConditionalSameSiteNone, v, Info,
			"is recorded but changes nothing: SameSite=None is sent to every browser")
	}
	return b
}

func (p *parser) sourceIP() (routetable.SourceIPAffinity, string) {
	s := routetable.SourceIPAffinity{IPv4PrefixLength: 32, IPv6PrefixLength: 128}
	v, ok := p.lookup(KeySourceIPPrefix)
	if !ok {
		return s, ""
	}
	if n, ok := parseIPv4Prefix(v); ok {
		s.IPv4PrefixLength = n
	} else {
		p.add(KeySourceIPPrefix, v, Error, "is not an IPv4 prefix length (want 1 to 32; 24 hashes like nginx ip_hash)")
	}
	return s, KeySourceIPPrefix
}

// headerKey is the key of header affinity: hash-header, else what upstream-hash-by
// named. key is set only for hash-header, the one annotation that can be given in vain.
func (p *parser) headerKey(hk hashKey) (h *routetable.HeaderAffinity, key string) {
	v, ok := p.lookup(KeyHashHeader)
	if !ok {
		return hk.header, ""
	}
	if hk.header != nil {
		p.add(NginxUpstreamHashBy, p.ann[NginxUpstreamHashBy], Info, "names a key that is ignored: "+KeyHashHeader+" takes precedence")
	}
	if !IsHeaderName(v) {
		p.add(KeyHashHeader, v, Error, "is not a header name (want a token like X-User-Id)")
		return nil, KeyHashHeader
	}
	return &routetable.HeaderAffinity{Name: v, Source: routetable.KeyFromHeader}, KeyHashHeader
}

func (p *parser) fallback() (routetable.Fallback, string) {
	k, v, ok := p.pick(KeyFallback, NginxSessionCookieChangeOnFailure)
	if !ok {
		return routetable.Rebalance, ""
	}
	if k == KeyFallback {
		switch strings.ToLower(v) {
		case "rebalance":
			return routetable.Rebalance, k
		case "strict":
			return routetable.Strict, k
		}
		p.add(k, v, Error, "is not a fallback (want rebalance or strict)")
		return routetable.Rebalance, k
	}
	if _, ok := parseBool(v); !ok {
		p.add(k, v, Error, wantBool)
	}
	return nginxFallback, k
}

func (p *parser) balanceFactor() (float64, string) {
	v, ok := p.lookup(KeyHashBalanceFactor)
	if !ok {
		return 0, ""
	}
	f, msg := ParseBalanceFactor(v)
	if msg != "" {
		p.add(KeyHashBalanceFactor, v, Error, msg)
	}
	return f, KeyHashBalanceFactor
}

func (p *parser) loadBalance() routetable.LoadBalance {
	k, v, ok := p.pick(KeyLoadBalance, NginxLoadBalance)
	if !ok {
		return routetable.RoundRobin
	}
	if k == KeyLoadBalance {
		switch strings.ToLower(v) {
		case "round-robin":
			return routetable.RoundRobin
		case "least-request":
			return routetable.LeastRequest
		}
		p.add(k, v, Error, "is not a load-balance method (want round-robin or least-request)")
		return routetable.RoundRobin
	}
	lb, approx, ok := parseNginxLoadBalance(v)
	if !ok {
		p.add(k, v, Error, "is not supported (want round_robin, least_conn or ewma)")
		return routetable.RoundRobin
	}
	if approx {
		p.add(k, v, Info, "is approximated by least-request (fewest in-flight requests of two random endpoints)")
	}
	return lb
}

// unknownMessage says an unknown sticky-ingress.io key is ignored, suggesting the
// nearest known one when it looks like a typo.
func unknownMessage(key string) string {
	msg := "is not a known " + Prefix + " annotation and is ignored"
	best, bestDist := "", 4
	for _, k := range NativeKeys {
		if d := editDistance(key, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		msg += " (did you mean " + best + "?)"
	}
	return msg
}

// editDistance is the Levenshtein distance, for typo suggestions on short keys.
func editDistance(a, b string) int {
	if len(a) > 128 || len(b) > 128 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
