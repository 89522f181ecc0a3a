package annotations

import (
	"reflect"
	"strings"
	"testing"
	"time"

	rt "github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// cookie returns the default cookie policy changed by fn.
func cookie(fn func(c *rt.CookieAffinity)) Affinity {
	c := rt.CookieAffinity{Name: "STICKY", Secure: rt.SecureAuto, HTTPOnly: true, SameSite: rt.SameSiteLax}
	if fn != nil {
		fn(&c)
	}
	return Affinity{Policy: rt.AffinityPolicy{Cookie: &c, Fallback: rt.Rebalance}, LoadBalance: rt.RoundRobin}
}

func nginxCookie(fn func(c *rt.CookieAffinity)) Affinity {
	return cookie(func(c *rt.CookieAffinity) {
		c.Name = "INGRESSCOOKIE"
		if fn != nil {
			fn(c)
		}
	})
}

func sourceIP(v4 int) Affinity {
	return Affinity{Policy: rt.AffinityPolicy{SourceIP: &rt.SourceIPAffinity{IPv4PrefixLength: v4, IPv6PrefixLength: 128},
		Fallback: rt.Rebalance}, LoadBalance: rt.RoundRobin}
}

func header(name string, src rt.KeySource) Affinity {
	return Affinity{Policy: rt.AffinityPolicy{Header: &rt.HeaderAffinity{Name: name, Source: src},
		Fallback: rt.Rebalance}, LoadBalance: rt.RoundRobin}
}

func with(a Affinity, fn func(a *Affinity)) Affinity { fn(&a); return a }

// want is an expected problem: key, severity and a substring of the message.
type want struct {
	key  string
	sev  Severity
	text string
}

func TestParse(t *testing.T) {
	const n = NginxPrefix
	const s = Prefix
	tests := []struct {
		name     string
		ann      map[string]string
		affinity Affinity // ignored when rejected
		problems []want
	}{
		{name: "no annotations", ann: nil, affinity: None},
		{name: "unrelated annotations", ann: map[string]string{"kubernetes.io/ingress.class": "sticky", "example.com/x": "y"}, affinity: None},

		// sticky-ingress.io/affinity
		{name: "affinity cookie", ann: map[string]string{s + "affinity": "cookie"}, affinity: cookie(nil)},
		{name: "affinity cookie is case-insensitive and trimmed", ann: map[string]string{s + "affinity": " Cookie "}, affinity: cookie(nil)},
		{name: "affinity source-ip", ann: map[string]string{s + "affinity": "source-ip"}, affinity: sourceIP(32)},
		{name: "affinity header", ann: map[string]string{s + "affinity": "header", s + "hash-header": "X-User-Id"}, affinity: header("X-User-Id", rt.KeyFromHeader)},
		{name: "affinity none", ann: map[string]string{s + "affinity": "none"}, affinity: None},
		{name: "affinity invalid", ann: map[string]string{s + "affinity": "sticky"},
			problems: []want{{s + "affinity", Error, `"sticky" is not an affinity mode (want cookie, source-ip, header or none)`}}},
		{name: "affinity empty is ignored", ann: map[string]string{s + "affinity": " "}, affinity: None,
			problems: []want{{s + "affinity", Warning, "is empty and is ignored"}}},
		{name: "affinity header without hash-header", ann: map[string]string{s + "affinity": "header"},
			problems: []want{{s + "affinity", Error, "needs sticky-ingress.io/hash-header"}}},

		// cookie-name
		{name: "cookie-name", ann: map[string]string{s + "affinity": "cookie", s + "cookie-name": "CART"},
			affinity: cookie(func(c *rt.CookieAffinity) { c.Name = "CART" })},
		{name: "cookie-name invalid", ann: map[string]string{s + "affinity": "cookie", s + "cookie-name": "my cookie"},
			problems: []want{{s + "cookie-name", Error, "is not a cookie name"}}},
		{name: "cookie-name too long", ann: map[string]string{s + "affinity": "cookie", s + "cookie-name": strings.Repeat("a", 129)},
			problems: []want{{s + "cookie-name", Error, "at most 128"}}},

		// cookie-path
		{name: "cookie-path", ann: map[string]string{s + "affinity": "cookie", s + "cookie-path": "/shop"},
			affinity: cookie(func(c *rt.CookieAffinity) { c.Path = "/shop" })},
		{name: "cookie-path relative", ann: map[string]string{s + "affinity": "cookie", s + "cookie-path": "shop"},
			problems: []want{{s + "cookie-path", Error, "is not a cookie path"}}},
		{name: "cookie-path with a control character", ann: map[string]string{s + "affinity": "cookie", s + "cookie-path": "/a\x01b"},
			problems: []want{{s + "cookie-path", Error, "is not a cookie path"}}},
		{name: "cookie-path with semicolon", ann: map[string]string{s + "affinity": "cookie", s + "cookie-path": "/a;Secure"},
			problems: []want{{s + "cookie-path", Error, "without ; or spaces"}}},

		// cookie-domain
		{name: "cookie-domain", ann: map[string]string{s + "affinity": "cookie", s + "cookie-domain": ".Example.com"},
			affinity: cookie(func(c *rt.CookieAffinity) { c.Domain = ".example.com" })},
		{name: "cookie-domain invalid", ann: map[string]string{s + "affinity": "cookie", s + "cookie-domain": "exa mple.com"},
			problems: []want{{s + "cookie-domain", Error, "is not a cookie domain"}}},

		// cookie-max-age
		{name: "cookie-max-age duration", ann: map[string]string{s + "affinity": "cookie", s + "cookie-max-age": "2h"},
			affinity: cookie(func(c *rt.CookieAffinity) { c.MaxAge = 2 * time.Hour })},
		{name: "cookie-max-age seconds", ann: map[string]string{s + "affinity": "cookie", s + "cookie-max-age": "3600"},
			affinity: cookie(func(c *rt.CookieAffinity) { c.MaxAge = time.Hour })},
		{name: "cookie-max-age zero is a session cookie", ann: map[string]string{s + "affinity": "cookie", s + "cookie-max-age": "0"},
			affinity: cookie(nil)},
		{name: "cookie-max-age not a duration", ann: map[string]string{s + "affinity": "cookie", s + "cookie-max-age": "abc"},
			problems: []want{{s + "cookie-max-age", Error, `"abc" is not a duration (want a Go duration like 2h or whole seconds)`}}},
		{name: "cookie-max-age negative", ann: map[string]string{s + "affinity": "cookie", s + "cookie-max-age": "-5"},
			problems: []want{{s + "cookie-max-age", Error, "is negative"}}},
		{name: "cookie-max-age negative duration", ann: map[string]string{s + "affinity": "cookie", s + "cookie-max-age": "-1h"},
			problems: []want{{s + "cookie-max-age", Error, "is negative"}}},
		{name: "cookie-max-age sub-second", ann: map[string]string{s + "affinity": "cookie", s + "cookie-max-age": "1500ms"},
			problems: []want{{s + "cookie-max-age", Error, "whole number of seconds"}}},
		{name: "cookie-max-age fractional seconds", ann: map[string]string{s + "affinity": "cookie", s + "cookie-max-age": "1.5"},
			problems: []want{{s + "cookie-max-age", Error, "whole number of seconds"}}},
		{name: "cookie-max-age overflow", ann: map[string]string{s + "affinity": "cookie", s + "cookie-max-age": "99999999999999999"},
			problems: []want{{s + "cookie-max-age", Error, "too large"}}},

		// cookie-secure
		{name: "cookie-secure auto", ann: map[string]string{s + "affinity": "cookie", s + "cookie-secure": "auto"}, affinity: cookie(nil)},
		{name: "cookie-secure true", ann: map[string]string{s + "affinity": "cookie", s + "cookie-secure": "true"},
			affinity: cookie(func(c *rt.CookieAffinity) { c.Secure = rt.SecureAlways })},
		{name: "cookie-secure false", ann: map[string]string{s + "affinity": "cookie", s + "cookie-secure": "FALSE"},
			affinity: cookie(func(c *rt.CookieAffinity) { c.Secure = rt.SecureNever })},
		{name: "cookie-secure invalid", ann: map[string]string{s + "affinity": "cookie", s + "cookie-secure": "always"},
			problems: []want{{s + "cookie-secure", Error, "want auto, true or false"}}},

		// cookie-httponly
		{name: "cookie-httponly false", ann: map[string]string{s + "affinity": "cookie", s + "cookie-httponly": "false"},
			affinity: cookie(func(c *rt.CookieAffinity) { c.HTTPOnly = false })},
		{name: "cookie-httponly true", ann: map[string]string{s + "affinity": "cookie", s + "cookie-httponly": "true"}, affinity: cookie(nil)},
		{name: "cookie-httponly invalid", ann: map[string]string{s + "affinity": "cookie", s + "cookie-httponly": "yes"},
			problems: []want{{s + "cookie-httponly", Error, "want true or false"}}},

		// cookie-samesite
		{name: "cookie-samesite Strict", ann: map[string]string{s + "affinity": "cookie", s + "cookie-samesite": "Strict"},
			affinity: cookie(func(c *rt.CookieAffinity) { c.SameSite = rt.SameSiteStrict })},
		{name: "cookie-samesite lax", ann: map[string]string{s + "affinity": "cookie", s + "cookie-samesite": "lax"}, affinity: cookie(nil)},
		{name: "cookie-samesite None forces Secure", ann: map[string]string{s + "affinity": "cookie", s + "cookie-samesite": "None"},
			affinity: cookie(func(c *rt.CookieAffinity) { c.SameSite = rt.SameSiteNone; c.Secure = rt.SecureAlways })},
		{name: "cookie-samesite None with secure false", ann: map[string]string{s + "affinity": "cookie", s + "cookie-samesite": "None", s + "cookie-secure": "false"},
			problems: []want{{s + "cookie-samesite", Error, `needs a Secure cookie, but sticky-ingress.io/cookie-secure is "false"`}}},
		{name: "cookie-samesite invalid", ann: map[string]string{s + "affinity": "cookie", s + "cookie-samesite": "Loose"},
			problems: []want{{s + "cookie-samesite", Error, "want Strict, Lax or None"}}},

		// hash-header
		{name: "hash-header invalid", ann: map[string]string{s + "affinity": "header", s + "hash-header": "X User"},
			problems: []want{{s + "hash-header", Error, "is not a header name"}}},
		{name: "hash-header without header affinity", ann: map[string]string{s + "affinity": "cookie", s + "hash-header": "X-User-Id"},
			affinity: cookie(nil), problems: []want{{s + "hash-header", Warning, "has no effect unless affinity is header"}}},

		// source-ip-prefix
		{name: "source-ip-prefix 24", ann: map[string]string{s + "affinity": "source-ip", s + "source-ip-prefix": "24"}, affinity: sourceIP(24)},
		{name: "source-ip-prefix 33", ann: map[string]string{s + "affinity": "source-ip", s + "source-ip-prefix": "33"},
			problems: []want{{s + "source-ip-prefix", Error, "want 1 to 32"}}},
		{name: "source-ip-prefix 0", ann: map[string]string{s + "affinity": "source-ip", s + "source-ip-prefix": "0"},
			problems: []want{{s + "source-ip-prefix", Error, "want 1 to 32"}}},
		{name: "source-ip-prefix with cookie", ann: map[string]string{s + "affinity": "cookie", s + "source-ip-prefix": "24"},
			affinity: cookie(nil), problems: []want{{s + "source-ip-prefix", Warning, "has no effect unless affinity is source-ip"}}},

		// fallback
		{name: "fallback strict", ann: map[string]string{s + "affinity": "cookie", s + "fallback": "strict"},
			affinity: with(cookie(nil), func(a *Affinity) { a.Policy.Fallback = rt.Strict })},
		{name: "fallback rebalance", ann: map[string]string{s + "affinity": "source-ip", s + "fallback": "Rebalance"}, affinity: sourceIP(32)},
		{name: "fallback invalid", ann: map[string]string{s + "affinity": "cookie", s + "fallback": "retry"},
			problems: []want{{s + "fallback", Error, "want rebalance or strict"}}},
		{name: "fallback without affinity", ann: map[string]string{s + "fallback": "strict"},
			affinity: None, problems: []want{{s + "fallback", Warning, "has no effect without affinity"}}},

		// load-balance
		{name: "load-balance least-request", ann: map[string]string{s + "affinity": "cookie", s + "load-balance": "least-request"},
			affinity: with(cookie(nil), func(a *Affinity) { a.LoadBalance = rt.LeastRequest })},
		{name: "load-balance round-robin without affinity", ann: map[string]string{s + "load-balance": "round-robin"}, affinity: None},
		{name: "load-balance least-request without affinity", ann: map[string]string{s + "load-balance": "least-request"},
			affinity: Affinity{LoadBalance: rt.LeastRequest}},
		{name: "load-balance invalid", ann: map[string]string{s + "load-balance": "random"},
			problems: []want{{s + "load-balance", Error, "want round-robin or least-request"}}},

		// hash-balance-factor
		{name: "hash-balance-factor", ann: map[string]string{s + "affinity": "header", s + "hash-header": "X-User-Id", s + "hash-balance-factor": "1.25"},
			affinity: with(header("X-User-Id", rt.KeyFromHeader), func(a *Affinity) { a.Policy.BalanceFactor = 1.25 })},
		{name: "hash-balance-factor 1", ann: map[string]string{s + "affinity": "source-ip", s + "hash-balance-factor": "1"},
			problems: []want{{s + "hash-balance-factor", Error, "must be greater than 1"}}},
		{name: "hash-balance-factor NaN", ann: map[string]string{s + "affinity": "source-ip", s + "hash-balance-factor": "NaN"},
			problems: []want{{s + "hash-balance-factor", Error, "is not a number"}}},
		{name: "hash-balance-factor with cookie", ann: map[string]string{s + "affinity": "cookie", s + "hash-balance-factor": "1.5"},
			affinity: cookie(nil), problems: []want{{s + "hash-balance-factor", Warning, "has no effect unless affinity is source-ip or header"}}},

		// unknown keys
		{name: "unknown native key with suggestion", ann: map[string]string{s + "affinity": "cookie", s + "cookie-maxage": "2h"},
			affinity: cookie(nil), problems: []want{{s + "cookie-maxage", Warning, "is not a known sticky-ingress.io/ annotation and is ignored (did you mean sticky-ingress.io/cookie-max-age?)"}}},
		{name: "unknown native key", ann: map[string]string{s + "something-else-entirely": "x"},
			affinity: None, problems: []want{{s + "something-else-entirely", Warning, "is ignored"}}},

		// cookie keys without cookie affinity
		{name: "cookie-name without affinity", ann: map[string]string{s + "cookie-name": "CART"},
			affinity: None, problems: []want{{s + "cookie-name", Warning, "has no effect unless affinity is cookie"}}},

		// several errors are all reported
		{name: "several errors", ann: map[string]string{s + "affinity": "cookie", s + "cookie-max-age": "abc", s + "cookie-samesite": "x"},
			problems: []want{{s + "cookie-max-age", Error, "not a duration"}, {s + "cookie-samesite", Error, "SameSite"}}},

		// nginx.ingress.kubernetes.io/affinity and affinity-mode
		{name: "nginx affinity cookie", ann: map[string]string{n + "affinity": "cookie"}, affinity: nginxCookie(nil)},
		{name: "nginx affinity invalid", ann: map[string]string{n + "affinity": "ip"},
			problems: []want{{n + "affinity", Error, "want cookie"}}},
		{name: "nginx affinity-mode balanced", ann: map[string]string{n + "affinity": "cookie", n + "affinity-mode": "balanced"}, affinity: nginxCookie(nil)},
		{name: "nginx affinity-mode persistent", ann: map[string]string{n + "affinity": "cookie", n + "affinity-mode": "persistent"}, affinity: nginxCookie(nil)},
		{name: "nginx affinity-mode invalid", ann: map[string]string{n + "affinity": "cookie", n + "affinity-mode": "sticky"},
			problems: []want{{n + "affinity-mode", Error, "want balanced, persistent"}}},

		// nginx session-cookie-*
		{name: "nginx session-cookie attributes", ann: map[string]string{
			n + "affinity": "cookie", n + "session-cookie-name": "route", n + "session-cookie-path": "/app",
			n + "session-cookie-domain": "example.com", n + "session-cookie-max-age": "172800",
			n + "session-cookie-secure": "true", n + "session-cookie-samesite": "Strict",
		}, affinity: cookie(func(c *rt.CookieAffinity) {
			c.Name, c.Path, c.Domain, c.MaxAge, c.Secure, c.SameSite = "route", "/app", "example.com", 48*time.Hour, rt.SecureAlways, rt.SameSiteStrict
		})},
		{name: "nginx session-cookie-expires", ann: map[string]string{n + "affinity": "cookie", n + "session-cookie-expires": "60"},
			affinity: nginxCookie(func(c *rt.CookieAffinity) { c.MaxAge = time.Minute })},
		{name: "nginx session-cookie-max-age beats expires", ann: map[string]string{n + "affinity": "cookie", n + "session-cookie-max-age": "120", n + "session-cookie-expires": "60"},
			affinity: nginxCookie(func(c *rt.CookieAffinity) { c.MaxAge = 2 * time.Minute }),
			problems: []want{{n + "session-cookie-expires", Info, "session-cookie-max-age takes precedence"}}},
		{name: "nginx session-cookie-max-age invalid", ann: map[string]string{n + "affinity": "cookie", n + "session-cookie-max-age": "forever"},
			problems: []want{{n + "session-cookie-max-age", Error, "is not a duration"}}},
		{name: "nginx session-cookie-secure false", ann: map[string]string{n + "affinity": "cookie", n + "session-cookie-secure": "false"},
			affinity: nginxCookie(func(c *rt.CookieAffinity) { c.Secure = rt.SecureNever })},
		{name: "nginx session-cookie-secure invalid", ann: map[string]string{n + "affinity": "cookie", n + "session-cookie-secure": "auto"},
			problems: []want{{n + "session-cookie-secure", Error, "want true or false"}}},
		{name: "nginx session-cookie-samesite None", ann: map[string]string{n + "affinity": "cookie", n + "session-cookie-samesite": "None"},
			affinity: nginxCookie(func(c *rt.CookieAffinity) { c.SameSite = rt.SameSiteNone; c.Secure = rt.SecureAlways })},
		{name: "nginx session-cookie-samesite None with secure false", ann: map[string]string{n + "affinity": "cookie", n + "session-cookie-samesite": "None", n + "session-cookie-secure": "false"},
			problems: []want{{n + "session-cookie-samesite", Error, "needs a Secure cookie"}}},
		{name: "nginx session-cookie-samesite invalid", ann: map[string]string{n + "affinity": "cookie", n + "session-cookie-samesite": "none-ish"},
			problems: []want{{n + "session-cookie-samesite", Error, "want Strict, Lax or None"}}},
		{name: "nginx session-cookie-name invalid", ann: map[string]string{n + "affinity": "cookie", n + "session-cookie-name": "a=b"},
			problems: []want{{n + "session-cookie-name", Error, "is not a cookie name"}}},
		{name: "nginx session-cookie-path invalid", ann: map[string]string{n + "affinity": "cookie", n + "session-cookie-path": "app"},
			problems: []want{{n + "session-cookie-path", Error, "is not a cookie path"}}},
		{name: "nginx session-cookie-domain invalid", ann: map[string]string{n + "affinity": "cookie", n + "session-cookie-domain": "-bad-.com"},
			problems: []want{{n + "session-cookie-domain", Error, "is not a cookie domain"}}},
		{name: "nginx conditional-samesite-none recorded", ann: map[string]string{n + "affinity": "cookie", n + "session-cookie-samesite": "None", n + "session-cookie-conditional-samesite-none": "true"},
			affinity: nginxCookie(func(c *rt.CookieAffinity) { c.SameSite = rt.SameSiteNone; c.Secure = rt.SecureAlways }),
			problems: []want{{n + "session-cookie-conditional-samesite-none", Info, "is recorded"}}},
		{name: "nginx conditional-samesite-none invalid", ann: map[string]string{n + "affinity": "cookie", n + "session-cookie-conditional-samesite-none": "maybe"},
			problems: []want{{n + "session-cookie-conditional-samesite-none", Error, "want true or false"}}},
		{name: "nginx change-on-failure true", ann: map[string]string{n + "affinity": "cookie", n + "session-cookie-change-on-failure": "true"}, affinity: nginxCookie(nil)},
		{name: "nginx change-on-failure false is still rebalance", ann: map[string]string{n + "affinity": "cookie", n + "session-cookie-change-on-failure": "false"}, affinity: nginxCookie(nil)},
		{name: "nginx change-on-failure invalid", ann: map[string]string{n + "affinity": "cookie", n + "session-cookie-change-on-failure": "sometimes"},
			problems: []want{{n + "session-cookie-change-on-failure", Error, "want true or false"}}},

		// nginx upstream-hash-by
		{name: "nginx upstream-hash-by $remote_addr", ann: map[string]string{n + "upstream-hash-by": "$remote_addr"}, affinity: sourceIP(32)},
		{name: "nginx upstream-hash-by $binary_remote_addr", ann: map[string]string{n + "upstream-hash-by": "$binary_remote_addr"}, affinity: sourceIP(32)},
		{name: "nginx upstream-hash-by $remote_addr with source-ip-prefix", ann: map[string]string{n + "upstream-hash-by": "$remote_addr", s + "source-ip-prefix": "24"}, affinity: sourceIP(24)},
		{name: "nginx upstream-hash-by $http_x_user_id", ann: map[string]string{n + "upstream-hash-by": "$http_x_user_id"}, affinity: header("X-User-Id", rt.KeyFromHeader)},
		{name: "nginx upstream-hash-by $cookie_JSESSIONID", ann: map[string]string{n + "upstream-hash-by": "$cookie_JSESSIONID"}, affinity: header("JSESSIONID", rt.KeyFromCookie)},
		{name: "nginx upstream-hash-by $arg_user", ann: map[string]string{n + "upstream-hash-by": "$arg_user"}, affinity: header("user", rt.KeyFromQuery)},
		{name: "nginx upstream-hash-by $request_uri", ann: map[string]string{n + "upstream-hash-by": "$request_uri"},
			problems: []want{{n + "upstream-hash-by", Error, `"$request_uri" is not supported (want $remote_addr, $binary_remote_addr, $http_NAME, $cookie_NAME or $arg_NAME)`}}},
		{name: "nginx upstream-hash-by expression", ann: map[string]string{n + "upstream-hash-by": "$remote_addr$http_user_agent"},
			problems: []want{{n + "upstream-hash-by", Error, "is not supported"}}},
		{name: "nginx upstream-hash-by empty header name", ann: map[string]string{n + "upstream-hash-by": "$http_"},
			problems: []want{{n + "upstream-hash-by", Error, "is not supported"}}},
		{name: "nginx upstream-hash-by-subset unsupported", ann: map[string]string{n + "upstream-hash-by": "$remote_addr", n + "upstream-hash-by-subset": "true"},
			affinity: sourceIP(32), problems: []want{{n + "upstream-hash-by-subset", Warning, "is not supported"}}},
		{name: "nginx affinity cookie beats upstream-hash-by", ann: map[string]string{n + "affinity": "cookie", n + "upstream-hash-by": "$remote_addr"},
			affinity: nginxCookie(nil), problems: []want{{n + "upstream-hash-by", Warning, "affinity cookie takes precedence"}}},
		{name: "hash-header beats the upstream-hash-by key", ann: map[string]string{n + "upstream-hash-by": "$http_x_user_id", s + "hash-header": "X-Tenant"},
			affinity: header("X-Tenant", rt.KeyFromHeader), problems: []want{{n + "upstream-hash-by", Info, "hash-header takes precedence"}}},

		// nginx load-balance
		{name: "nginx load-balance round_robin", ann: map[string]string{n + "load-balance": "round_robin"}, affinity: None},
		{name: "nginx load-balance least_conn", ann: map[string]string{n + "load-balance": "least_conn"}, affinity: Affinity{LoadBalance: rt.LeastRequest}},
		{name: "nginx load-balance ewma", ann: map[string]string{n + "load-balance": "ewma"}, affinity: Affinity{LoadBalance: rt.LeastRequest},
			problems: []want{{n + "load-balance", Info, "approximated by least-request"}}},
		{name: "nginx load-balance invalid", ann: map[string]string{n + "load-balance": "chash"},
			problems: []want{{n + "load-balance", Error, "want round_robin, least_conn or ewma"}}},

		// native beats nginx
		{name: "native affinity beats nginx affinity", ann: map[string]string{s + "affinity": "source-ip", n + "affinity": "cookie"},
			affinity: sourceIP(32), problems: []want{{n + "affinity", Info, "sticky-ingress.io/affinity takes precedence"}}},
		{name: "native affinity none beats nginx upstream-hash-by", ann: map[string]string{s + "affinity": "none", n + "upstream-hash-by": "$remote_addr"},
			affinity: None, problems: []want{{n + "upstream-hash-by", Info, "takes precedence"}}},
		{name: "native beats nginx without validating the twin", ann: map[string]string{s + "affinity": "cookie", n + "affinity": "bogus"},
			affinity: cookie(nil), problems: []want{{n + "affinity", Info, "takes precedence"}}},
		{name: "native cookie-name beats session-cookie-name", ann: map[string]string{n + "affinity": "cookie", s + "cookie-name": "NATIVE", n + "session-cookie-name": "NGINX"},
			affinity: cookie(func(c *rt.CookieAffinity) { c.Name = "NATIVE" }), problems: []want{{n + "session-cookie-name", Info, "sticky-ingress.io/cookie-name takes precedence"}}},
		{name: "native cookie-max-age beats both nginx twins", ann: map[string]string{n + "affinity": "cookie", s + "cookie-max-age": "1h", n + "session-cookie-max-age": "60", n + "session-cookie-expires": "60"},
			affinity: nginxCookie(func(c *rt.CookieAffinity) { c.MaxAge = time.Hour }),
			problems: []want{{n + "session-cookie-expires", Info, "takes precedence"}, {n + "session-cookie-max-age", Info, "takes precedence"}}},
		{name: "native cookie-secure beats session-cookie-secure", ann: map[string]string{n + "affinity": "cookie", s + "cookie-secure": "auto", n + "session-cookie-secure": "false"},
			affinity: nginxCookie(nil), problems: []want{{n + "session-cookie-secure", Info, "takes precedence"}}},
		{name: "native cookie-samesite beats session-cookie-samesite", ann: map[string]string{n + "affinity": "cookie", s + "cookie-samesite": "Strict", n + "session-cookie-samesite": "None"},
			affinity: nginxCookie(func(c *rt.CookieAffinity) { c.SameSite = rt.SameSiteStrict }), problems: []want{{n + "session-cookie-samesite", Info, "takes precedence"}}},
		{name: "native cookie-path and domain beat nginx", ann: map[string]string{n + "affinity": "cookie", s + "cookie-path": "/a", n + "session-cookie-path": "/b", s + "cookie-domain": "a.test", n + "session-cookie-domain": "b.test"},
			affinity: nginxCookie(func(c *rt.CookieAffinity) { c.Path, c.Domain = "/a", "a.test" }),
			problems: []want{{n + "session-cookie-domain", Info, "takes precedence"}, {n + "session-cookie-path", Info, "takes precedence"}}},
		{name: "native fallback beats change-on-failure", ann: map[string]string{n + "affinity": "cookie", s + "fallback": "strict", n + "session-cookie-change-on-failure": "true"},
			affinity: with(nginxCookie(nil), func(a *Affinity) { a.Policy.Fallback = rt.Strict }), problems: []want{{n + "session-cookie-change-on-failure", Info, "takes precedence"}}},
		{name: "native load-balance beats nginx load-balance", ann: map[string]string{s + "load-balance": "round-robin", n + "load-balance": "ewma"},
			affinity: None, problems: []want{{n + "load-balance", Info, "sticky-ingress.io/load-balance takes precedence"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Parse(tt.ann)
			rejected := false
			for _, w := range tt.problems {
				rejected = rejected || w.sev == Error
			}
			if res.Rejected() != rejected {
				t.Fatalf("Rejected() = %v, want %v; problems: %v", res.Rejected(), rejected, res.Problems)
			}
			if rejected {
				if !reflect.DeepEqual(res.Affinity, None) {
					t.Errorf("a rejected result carries %+v, want None", res.Affinity)
				}
			} else if !reflect.DeepEqual(res.Affinity, tt.affinity) {
				t.Errorf("affinity:\n got %s\nwant %s", show(res.Affinity), show(tt.affinity))
			}
			if len(res.Problems) != len(tt.problems) {
				t.Fatalf("problems %q, want %d like %v", res.Problems, len(tt.problems), tt.problems)
			}
			for i, w := range tt.problems {
				p := res.Problems[i]
				if p.Key != w.key || p.Severity != w.sev || !strings.Contains(p.Error(), w.text) {
					t.Errorf("problem %d = %s %q, want %s %s containing %q", i, p.Severity, p.Error(), w.sev, w.key, w.text)
				}
			}
		})
	}
}

func show(a Affinity) string {
	s := a.Policy.Mode() + " lb=" + string(a.LoadBalance) + " fallback=" + string(a.Policy.Fallback)
	switch {
	case a.Policy.Cookie != nil:
		c := *a.Policy.Cookie
		s += " " + strings.Join([]string{c.Name, c.Path, c.Domain, c.MaxAge.String(), string(c.Secure), string(c.SameSite)}, ",")
		if c.HTTPOnly {
			s += ",httponly"
		}
	case a.Policy.SourceIP != nil:
		s += " " + reflect.ValueOf(*a.Policy.SourceIP).String()
	case a.Policy.Header != nil:
		s += " " + a.Policy.Header.Name + "/" + string(a.Policy.Header.Source)
	}
	return s
}

func TestProblemMessage(t *testing.T) {
	res := Parse(map[string]string{KeyAffinity: "cookie", KeyCookieMaxAge: "abc"})
	got := res.Errors()[0].Error()
	want := `annotation sticky-ingress.io/cookie-max-age: "abc" is not a duration (want a Go duration like 2h or whole seconds)`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestKeys(t *testing.T) {
	res := Parse(map[string]string{
		KeyCookieName: "A", NginxAffinity: "cookie", "sticky-ingress.io/nope": "x", "other/thing": "y",
	})
	want := []string{NginxAffinity, KeyCookieName}
	if !reflect.DeepEqual(res.Keys, want) {
		t.Errorf("Keys = %v, want %v", res.Keys, want)
	}
}

func TestParseMaxAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"0": 0, "1": time.Second, "90m": 90 * time.Minute, "1h30m": 90 * time.Minute, "0s": 0} {
		if got, msg := ParseMaxAge(in); msg != "" || got != want {
			t.Errorf("ParseMaxAge(%q) = %v, %q; want %v", in, got, msg, want)
		}
	}
}
