package annotations

import (
	"slices"
	"strings"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// Affinity is what an Ingress's annotations ask for: the routetable policy of its
// backends and how new sessions pick an endpoint.
type Affinity struct {
	Policy      routetable.AffinityPolicy
	LoadBalance routetable.LoadBalance
}

// None is no affinity with the default load balancing: what an Ingress without
// affinity annotations gets, and what a rejected Result carries.
var None = Affinity{LoadBalance: routetable.RoundRobin}

// Cookie defaults (DESIGN.md). Ingresses whose cookie affinity comes from
// nginx.ingress.kubernetes.io/affinity keep ingress-nginx's cookie name, which
// application, CDN and WAF rules may already mention.
const (
	DefaultCookieName      = "STICKY"
	DefaultNginxCookieName = "INGRESSCOOKIE"
)

// Result is what Parse found.
type Result struct {
	// Affinity is None when Rejected.
	Affinity Affinity
	// Keys are the affinity annotations present (native and nginx), sorted; an
	// Ingress with none has nothing a StickyPolicy could override.
	Keys []string
	// Problems, sorted by key.
	Problems []Problem
	// ConditionalSameSiteNone records nginx's session-cookie-conditional-samesite-none:
	// "true" (older browsers would have had SameSite=None left out). Nothing reads it
	// but logs: every browser gets SameSite=None.
	ConditionalSameSiteNone bool
}

// Rejected reports whether an annotation is invalid, so that the Ingress's
// annotation-derived affinity must not be used (see the package doc).
func (r Result) Rejected() bool {
	return slices.ContainsFunc(r.Problems, func(p Problem) bool { return p.Severity == Error })
}

// Errors are the problems of Severity Error.
func (r Result) Errors() []Problem {
	var out []Problem
	for _, p := range r.Problems {
		if p.Severity == Error {
			out = append(out, p)
		}
	}
	return out
}

type parser struct {
	ann      map[string]string
	problems []Problem
}

// Parse reads the affinity annotations of one Ingress. It never fails: every problem
// is in Result.Problems.
func Parse(ann map[string]string) Result {
	p := &parser{ann: ann}
	var res Result
	for k, v := range ann {
		switch {
		case IsAffinityKey(k):
			res.Keys = append(res.Keys, k)
		case strings.HasPrefix(k, Prefix):
			p.add(k, v, Warning, unknownMessage(k))
		}
	}
	slices.Sort(res.Keys)

	mode, src, hk, modeKey, modeOK := p.mode()
	lb := p.loadBalance()
	cookie, cookieKeys := p.cookie(src == srcNginxAffinity)
	res.ConditionalSameSiteNone = p.conditionalSameSiteNone()
	sip, sipKey := p.sourceIP()
	header, headerKey := p.headerKey(hk)
	fallback, fallbackKey := p.fallback()
	bf, bfKey := p.balanceFactor()

	a := Affinity{LoadBalance: lb}
	switch mode {
	case modeCookie:
		a.Policy.Cookie = &cookie
	case modeSourceIP:
		a.Policy.SourceIP = &sip
	case modeHeader:
		if header == nil && headerKey == "" {
			p.add(modeKey, p.ann[modeKey], Error, "needs "+KeyHashHeader+" (the request header to hash)")
		}
		a.Policy.Header = header
	}
	if mode != modeNone {
		a.Policy.Fallback = fallback
	}
	if mode == modeSourceIP || mode == modeHeader {
		a.Policy.BalanceFactor = bf
	}
	if modeOK {
		p.noEffect(mode, cookieKeys, sipKey, headerKey, fallbackKey, bfKey)
	}

	res.Problems = sortProblems(p.problems)
	res.Affinity = a
	if res.Rejected() {
		res.Affinity = None
	}
	return res
}

func (p *parser) add(key, value string, sev Severity, msg string) {
	p.problems = append(p.problems, Problem{Key: key, Value: value, Severity: sev, Message: msg})
}

// lookup returns the trimmed value of key. An empty value counts as unset (Helm
// templates render them) and is reported.
func (p *parser) lookup(key string) (string, bool) {
	raw, ok := p.ann[key]
	if !ok {
		return "", false
	}
	v := strings.TrimSpace(raw)
	if v == "" {
		p.add(key, raw, Warning, "is empty and is ignored")
		return "", false
	}
	return v, true
}

// pick returns the native annotation when present, else its nginx twin.
func (p *parser) pick(native string, twins ...string) (key, value string, ok bool) {
	key, value, ok = "", "", false
	for _, k := range append([]string{native}, twins...) {
		v, present := p.lookup(k)
		if !present {
			continue
		}
		if ok {
			// A twin that says the same (nginx's max-age and expires usually do) loses
			// nothing; only one that differs is worth a note.
			if v != value {
				p.add(k, v, Info, "is ignored: "+key+" takes precedence")
			}
			continue
		}
		key, value, ok = k, v, true
	}
	return key, value, ok
}

type mode string

const (
	modeNone     mode = "none"
	modeCookie   mode = "cookie"
	modeSourceIP mode = "source-ip"
	modeHeader   mode = "header"
)

type modeSource int

const (
	srcNone modeSource = iota
	srcNative
	srcNginxAffinity
	srcNginxHash
)

// mode decides the kind of affinity and which annotation said so. ok is false when
// that annotation is invalid.
func (p *parser) mode() (m mode, src modeSource, hk hashKey, key string, ok bool) {
	native, hasNative := p.lookup(KeyAffinity)
	nAff, hasNAff := p.lookup(NginxAffinity)
	nHash, hasNHash := p.lookup(NginxUpstreamHashBy)
	for _, k := range []string{NginxUpstreamHashBySubset, NginxUpstreamHashBySubsetSize} {
		if v, present := p.lookup(k); present {
			p.add(k, v, Warning, "is not supported and is ignored: hashing spreads over every endpoint")
		}
	}
	switch {
	case hasNative:
		if hasNAff {
			p.add(NginxAffinity, nAff, Info, "is ignored: "+KeyAffinity+" takes precedence")
		}
		if hasNHash {
			p.add(NginxUpstreamHashBy, nHash, Info, "is ignored: "+KeyAffinity+" takes precedence")
		}
		switch v := mode(strings.ToLower(native)); v {
		case modeNone, modeCookie, modeSourceIP, modeHeader:
			return v, srcNative, hk, KeyAffinity, true
		}
		p.add(KeyAffinity, native, Error, "is not an affinity mode (want cookie, source-ip, header or none)")
		return modeNone, srcNative, hk, KeyAffinity, false
	case hasNAff:
		if hasNHash {
			p.add(NginxUpstreamHashBy, nHash, Warning,
				"is ignored: "+NginxAffinity+" cookie takes precedence, as in ingress-nginx")
		}
		if !strings.EqualFold(nAff, "cookie") {
			p.add(NginxAffinity, nAff, Error, "is not supported (want cookie, the only affinity ingress-nginx has)")
			return modeNone, srcNginxAffinity, hk, NginxAffinity, false
		}
		return modeCookie, srcNginxAffinity, hk, NginxAffinity, true
	case hasNHash:
		hk, msg := parseUpstreamHashBy(nHash)
		if msg != "" {
			p.add(NginxUpstreamHashBy, nHash, Error, msg)
			return modeNone, srcNginxHash, hk, NginxUpstreamHashBy, false
		}
		if hk.sourceIP {
			return modeSourceIP, srcNginxHash, hk, NginxUpstreamHashBy, true
		}
		return modeHeader, srcNginxHash, hk, NginxUpstreamHashBy, true
	}
	return modeNone, srcNone, hk, "", true
}

// noEffect warns about annotations that were given for another mode than the one in
// force: they are valid, but the user probably expects them to do something.
func (p *parser) noEffect(m mode, cookieKeys []string, sipKey, headerKey, fallbackKey, bfKey string) {
	if m != modeCookie {
		for _, k := range cookieKeys {
			p.add(k, p.ann[k], Warning, "has no effect unless affinity is cookie")
		}
	}
	if sipKey != "" && m != modeSourceIP {
		p.add(sipKey, p.ann[sipKey], Warning, "has no effect unless affinity is source-ip")
	}
	if headerKey != "" && m != modeHeader {
		p.add(headerKey, p.ann[headerKey], Warning, "has no effect unless affinity is header")
	}
	if fallbackKey != "" && m == modeNone {
		p.add(fallbackKey, p.ann[fallbackKey], Warning, "has no effect without affinity")
	}
	if bfKey != "" && m != modeSourceIP && m != modeHeader {
		p.add(bfKey, p.ann[bfKey], Warning, "has no effect unless affinity is source-ip or header (consistent hashing)")
	}
}
