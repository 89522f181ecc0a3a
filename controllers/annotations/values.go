package annotations

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// The same patterns as the StickyPolicy CRD, so an annotation and a policy accept the
// same cookie attributes.
var (
	tokenRE      = regexp.MustCompile(`^[!#$%&'*+\-.^_|~0-9A-Za-z]+$`)
	cookiePathRE = regexp.MustCompile(`^/[^;\s]*$`)
	domainRE     = regexp.MustCompile(`^\.?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// Limits shared with the StickyPolicy CRD.
const (
	maxCookieNameLen = 128
	maxHeaderNameLen = 256
	maxDomainLen     = 253
	maxPathLen       = 1024
)

// IsCookieName reports whether s is a valid cookie name (an RFC 7230 token).
func IsCookieName(s string) bool { return len(s) <= maxCookieNameLen && tokenRE.MatchString(s) }

// IsHeaderName reports whether s is a valid header, cookie or query key name for
// header affinity.
func IsHeaderName(s string) bool { return len(s) <= maxHeaderNameLen && tokenRE.MatchString(s) }

// IsCookiePath reports whether s can be a cookie Path attribute: absolute, without
// ';', spaces or control characters (RFC 6265 av-octet).
func IsCookiePath(s string) bool {
	return len(s) <= maxPathLen && cookiePathRE.MatchString(s) &&
		!strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// IsCookieDomain reports whether s can be a cookie Domain attribute (lower case).
func IsCookieDomain(s string) bool { return len(s) <= maxDomainLen && domainRE.MatchString(s) }

// ParseMaxAge reads a cookie max-age: a Go duration ("2h") or whole seconds ("7200").
// It must be a whole, non-negative number of seconds: a cookie's Max-Age has second
// resolution, and "500ms" rounding to Max-Age=0 would delete the cookie at once.
func ParseMaxAge(s string) (time.Duration, string) {
	var d time.Duration
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return 0, "is negative (want 0 for a session cookie, or more)"
		}
		if n > math.MaxInt64/int64(time.Second) {
			return 0, "is too large"
		}
		d = time.Duration(n) * time.Second
	} else {
		var perr error
		d, perr = time.ParseDuration(s)
		if perr != nil {
			if strings.HasPrefix(s, "-") || isNumeric(s) {
				return 0, "is not a whole number of seconds (want a Go duration like 2h or whole seconds)"
			}
			return 0, "is not a duration (want a Go duration like 2h or whole seconds)"
		}
	}
	if d < 0 {
		return 0, "is negative (want 0 for a session cookie, or more)"
	}
	if d%time.Second != 0 {
		return 0, "is not a whole number of seconds (cookies count Max-Age in seconds)"
	}
	return d, ""
}

func isNumeric(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// ParseBalanceFactor reads a consistent-hash balance factor: a finite number > 1.
func ParseBalanceFactor(s string) (float64, string) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, "is not a number (want a number greater than 1, like 1.25)"
	}
	if f <= 1 {
		return 0, "must be greater than 1 (like 1.25)"
	}
	return f, ""
}

// parseBool accepts true and false in any case; "1", "t" and friends are refused so
// that what the user wrote reads the same way to a person.
func parseBool(s string) (value, ok bool) {
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

func parseSameSite(s string) (routetable.SameSite, bool) {
	switch strings.ToLower(s) {
	case "strict":
		return routetable.SameSiteStrict, true
	case "lax":
		return routetable.SameSiteLax, true
	case "none":
		return routetable.SameSiteNone, true
	}
	return "", false
}

func parseSecure(s string) (routetable.CookieSecure, bool) {
	switch strings.ToLower(s) {
	case "auto":
		return routetable.SecureAuto, true
	case "true":
		return routetable.SecureAlways, true
	case "false":
		return routetable.SecureNever, true
	}
	return "", false
}

func parseIPv4Prefix(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 32 {
		return 0, false
	}
	return n, true
}
