package affinity

import (
	"net/http"
	"net/url"
	"strings"
)

// Request keys are read without net/http's helpers, which parse every cookie or query
// parameter into fresh maps and slices: on the request path only substrings of what
// the server already holds are used, so that a pick allocates nothing.

// cookieScanner yields the values of the cookies called name, in header order.
type cookieScanner struct {
	lines []string // remaining Cookie header lines
	line  string   // rest of the current line
	name  string
}

func newCookieScanner(r *http.Request, name string) cookieScanner {
	if r == nil {
		return cookieScanner{}
	}
	return cookieScanner{lines: r.Header["Cookie"], name: name}
}

// next returns the next value of the cookie, unquoted, or ok=false at the end.
func (s *cookieScanner) next() (value string, ok bool) {
	for {
		for s.line == "" {
			if len(s.lines) == 0 {
				return "", false
			}
			s.line, s.lines = s.lines[0], s.lines[1:]
		}
		var part string
		part, s.line, _ = strings.Cut(s.line, ";")
		part = strings.TrimSpace(part)
		name, val, found := strings.Cut(part, "=")
		if !found || name != s.name {
			continue
		}
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		return val, true
	}
}

// firstCookie is the first non-empty value of the cookie called name.
func firstCookie(r *http.Request, name string) (string, bool) {
	s := newCookieScanner(r, name)
	for {
		v, ok := s.next()
		if !ok {
			return "", false
		}
		if v != "" {
			return v, true
		}
	}
}

// firstQuery is the first non-empty value of the query parameter called name. Only
// escaped parameters cost an allocation (to unescape them).
func firstQuery(r *http.Request, name string) (string, bool) {
	if r == nil || r.URL == nil {
		return "", false
	}
	q := r.URL.RawQuery
	for q != "" {
		var part string
		part, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(part, "=")
		if needsUnescape(k) {
			var err error
			if k, err = url.QueryUnescape(k); err != nil {
				continue
			}
		}
		if k != name {
			continue
		}
		if needsUnescape(v) {
			var err error
			if v, err = url.QueryUnescape(v); err != nil {
				continue
			}
		}
		if v != "" {
			return v, true
		}
	}
	return "", false
}

func needsUnescape(s string) bool { return strings.ContainsAny(s, "%+") }

// firstHeader is the first non-empty value of the header whose canonical name is canon.
func firstHeader(r *http.Request, canon string) (string, bool) {
	if r == nil {
		return "", false
	}
	for _, v := range r.Header[canon] {
		if v != "" {
			return v, true
		}
	}
	return "", false
}
