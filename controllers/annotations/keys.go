package annotations

import (
	"slices"
	"strings"
)

// Annotation prefixes.
const (
	Prefix      = "sticky-ingress.io/"
	NginxPrefix = "nginx.ingress.kubernetes.io/"
)

// Native annotation keys (DESIGN.md, "Ingress annotations").
const (
	KeyAffinity          = Prefix + "affinity"
	KeyCookieName        = Prefix + "cookie-name"
	KeyCookiePath        = Prefix + "cookie-path"
	KeyCookieDomain      = Prefix + "cookie-domain"
	KeyCookieMaxAge      = Prefix + "cookie-max-age"
	KeyCookieSecure      = Prefix + "cookie-secure"
	KeyCookieHTTPOnly    = Prefix + "cookie-httponly"
	KeyCookieSameSite    = Prefix + "cookie-samesite"
	KeyHashHeader        = Prefix + "hash-header"
	KeySourceIPPrefix    = Prefix + "source-ip-prefix"
	KeyFallback          = Prefix + "fallback"
	KeyLoadBalance       = Prefix + "load-balance"
	KeyHashBalanceFactor = Prefix + "hash-balance-factor"
)

// ingress-nginx annotation keys that are read.
const (
	NginxAffinity                             = NginxPrefix + "affinity"
	NginxAffinityMode                         = NginxPrefix + "affinity-mode"
	NginxSessionCookieName                    = NginxPrefix + "session-cookie-name"
	NginxSessionCookiePath                    = NginxPrefix + "session-cookie-path"
	NginxSessionCookieDomain                  = NginxPrefix + "session-cookie-domain"
	NginxSessionCookieExpires                 = NginxPrefix + "session-cookie-expires"
	NginxSessionCookieMaxAge                  = NginxPrefix + "session-cookie-max-age"
	NginxSessionCookieSecure                  = NginxPrefix + "session-cookie-secure"
	NginxSessionCookieSameSite                = NginxPrefix + "session-cookie-samesite"
	NginxSessionCookieConditionalSameSiteNone = NginxPrefix + "session-cookie-conditional-samesite-none"
	NginxSessionCookieChangeOnFailure         = NginxPrefix + "session-cookie-change-on-failure"
	NginxUpstreamHashBy                       = NginxPrefix + "upstream-hash-by"
	NginxUpstreamHashBySubset                 = NginxPrefix + "upstream-hash-by-subset"
	NginxUpstreamHashBySubsetSize             = NginxPrefix + "upstream-hash-by-subset-size"
	NginxLoadBalance                          = NginxPrefix + "load-balance"
)

// NativeKeys are every sticky-ingress.io annotation, sorted.
var NativeKeys = sortedKeys(
	KeyAffinity, KeyCookieName, KeyCookiePath, KeyCookieDomain, KeyCookieMaxAge,
	KeyCookieSecure, KeyCookieHTTPOnly, KeyCookieSameSite, KeyHashHeader,
	KeySourceIPPrefix, KeyFallback, KeyLoadBalance, KeyHashBalanceFactor,
)

// NginxKeys are the ingress-nginx annotations this package reads, sorted.
var NginxKeys = sortedKeys(
	NginxAffinity, NginxAffinityMode, NginxSessionCookieName, NginxSessionCookiePath,
	NginxSessionCookieDomain, NginxSessionCookieExpires, NginxSessionCookieMaxAge,
	NginxSessionCookieSecure, NginxSessionCookieSameSite,
	NginxSessionCookieConditionalSameSiteNone, NginxSessionCookieChangeOnFailure,
	NginxUpstreamHashBy, NginxUpstreamHashBySubset, NginxUpstreamHashBySubsetSize,
	NginxLoadBalance,
)

func sortedKeys(keys ...string) []string {
	slices.Sort(keys)
	return keys
}

// IsAffinityKey reports whether key is one this package reads.
func IsAffinityKey(key string) bool {
	if strings.HasPrefix(key, Prefix) {
		_, ok := slices.BinarySearch(NativeKeys, key)
		return ok
	}
	_, ok := slices.BinarySearch(NginxKeys, key)
	return ok
}
