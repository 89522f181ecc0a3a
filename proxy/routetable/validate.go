package routetable

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
)

// maxProblems bounds the joined error of Validate: a broken builder can produce
// thousands of identical problems, and the first few say enough.
const maxProblems = 20

// Validate reports everything that would make the snapshot unservable or ambiguous:
// duplicate or unknown names, malformed hosts and paths, affinity unions with more
// than one member, and values outside their documented ranges. The error joins one
// error per problem (at most 20), each naming the offending host, route or backend.
//
// Empty enum values are accepted and mean their documented default (PathType "" is
// Prefix, LoadBalance "" is RoundRobin, Fallback "" is Rebalance, Secure "" is Auto,
// SameSite "" omits the attribute), so hand-written snapshots stay short.
func (s *Snapshot) Validate() error {
	if s == nil {
		return errors.New("snapshot is nil")
	}
	_, err := s.validate()
	return err
}

// validate is Validate, also returning the index of each backend by name, which
// Compile needs too: one map of 10k names instead of two.
func (s *Snapshot) validate() (map[string]int, error) {
	v := &validator{}
	backends := make(map[string]int, len(s.Backends))
	for i := range s.Backends {
		b := &s.Backends[i]
		if _, dup := backends[b.Name]; b.Name == "" {
			v.addf("backend %d: name is empty", i)
		} else if dup {
			v.addf("backend %q: duplicate name", b.Name)
		}
		backends[b.Name] = i
		v.backend(b)
	}
	if _, ok := backends[s.DefaultBackend]; s.DefaultBackend != "" && !ok {
		v.addf("default backend %q does not exist", s.DefaultBackend)
	}
	hosts := make(map[string]bool, len(s.VirtualHosts))
	for i := range s.VirtualHosts {
		vh := &s.VirtualHosts[i]
		h := strings.ToLower(vh.Host)
		if hosts[h] {
			v.addf("virtual host %q: duplicate host", vh.Host)
		}
		hosts[h] = true
		if err := checkHost(vh.Host); err != nil {
			v.addf("virtual host %q: %v", vh.Host, err)
		}
		for j := range vh.Routes {
			v.route(vh.Host, j, &vh.Routes[j], backends)
		}
	}
	for i := range s.Certificates {
		c := &s.Certificates[i]
		for _, h := range c.Hosts {
			if h == "" {
				v.addf("certificate %s: empty host", c.Source)
			} else if err := checkHost(h); err != nil {
				v.addf("certificate %s: host %q: %v", c.Source, h, err)
			}
		}
	}
	return backends, v.err()
}

func (v *validator) route(host string, j int, r *Route, backends map[string]int) {
	// The location is formatted only for a problem: snapshots have 10k routes.
	where := func() string {
		w := fmt.Sprintf("virtual host %q: route %d (path %q", host, j, r.Path)
		if r.Source != "" {
			w += " from " + r.Source
		}
		return w + ")"
	}
	if err := checkPath(r.Path); err != nil {
		v.addf("%s: %v", where(), err)
	}
	switch r.PathType {
	case "", PathExact, PathPrefix, PathImplementationSpecific:
	default:
		v.addf("%s: unknown path type %q", where(), r.PathType)
	}
	if _, ok := backends[r.Backend]; !ok {
		v.addf("%s: backend %q does not exist", where(), r.Backend)
	}
}

type validator struct {
	errs    []error
	dropped int
}

func (v *validator) addf(format string, args ...any) {
	if len(v.errs) == maxProblems {
		v.dropped++
		return
	}
	v.errs = append(v.errs, fmt.Errorf(format, args...))
}

func (v *validator) err() error {
	if v.dropped > 0 {
		v.errs = append(v.errs, fmt.Errorf("and %d more problems", v.dropped))
	}
	return errors.Join(v.errs...)
}

func (v *validator) backend(b *Backend) {
	// Formatted only for a problem: snapshots have 10k backends.
	where := func() string { return "backend " + strconv.Quote(b.Name) }
	switch b.LoadBalance {
	case "", RoundRobin, LeastRequest:
	default:
		v.addf("%s: unknown load balance %q", where(), b.LoadBalance)
	}
	// Endpoints come sorted by ID, and then strictly increasing IDs are unique: a map
	// per backend (10k of them) is needed only when they are not sorted.
	sorted := true
	for i := range b.Endpoints {
		e := &b.Endpoints[i]
		if e.ID == "" {
			v.addf("%s: endpoint %d (%s): empty ID", where(), i, e.Address)
		}
		if i > 0 && e.ID <= b.Endpoints[i-1].ID {
			sorted = false
		}
		if _, port, err := net.SplitHostPort(e.Address); err != nil || port == "" {
			v.addf("%s: endpoint %q: address %q is not host:port", where(), e.ID, e.Address)
		}
		if e.Weight < 0 {
			v.addf("%s: endpoint %q: negative weight %d", where(), e.ID, e.Weight)
		}
	}
	if !sorted {
		ids := make(map[string]bool, len(b.Endpoints))
		for i := range b.Endpoints {
			e := &b.Endpoints[i]
			if e.ID != "" && ids[e.ID] {
				v.addf("%s: endpoint %q: duplicate ID", where(), e.ID)
			}
			ids[e.ID] = true
		}
	}
	v.affinity(where, &b.Affinity)
}

func (v *validator) affinity(where func() string, a *AffinityPolicy) {
	n := 0
	for _, set := range []bool{a.Cookie != nil, a.SourceIP != nil, a.Header != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		v.addf("%s: affinity sets %d of cookie, sourceIP and header; at most one may be set", where(), n)
	}
	switch a.Fallback {
	case "", Rebalance, Strict:
	default:
		v.addf("%s: unknown fallback %q", where(), a.Fallback)
	}
	if f := a.BalanceFactor; math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || (f > 0 && f <= 1) {
		v.addf("%s: balance factor %v: want 0 (unbounded) or a number > 1", where(), f)
	}
	if c := a.Cookie; c != nil {
		v.cookie(where, c)
	}
	if s := a.SourceIP; s != nil {
		if s.IPv4PrefixLength < 0 || s.IPv4PrefixLength > 32 {
			v.addf("%s: source-ip IPv4 prefix length %d: want 0..32", where(), s.IPv4PrefixLength)
		}
		if s.IPv6PrefixLength < 0 || s.IPv6PrefixLength > 128 {
			v.addf("%s: source-ip IPv6 prefix length %d: want 0..128", where(), s.IPv6PrefixLength)
		}
	}
	if h := a.Header; h != nil {
		switch h.Source {
		case "", KeyFromHeader:
			if !isToken(h.Name) {
				v.addf("%s: hash header name %q is not a valid header name", where(), h.Name)
			}
		case KeyFromCookie:
			if !isToken(h.Name) {
				v.addf("%s: hash cookie name %q is not a valid cookie name", where(), h.Name)
			}
		case KeyFromQuery:
			if h.Name == "" {
				v.addf("%s: hash query parameter name is empty", where())
			}
		default:
			v.addf("%s: unknown hash key source %q", where(), h.Source)
		}
	}
}

func (v *validator) cookie(where func() string, c *CookieAffinity) {
	if !isToken(c.Name) {
		v.addf("%s: cookie name %q is not a valid cookie name", where(), c.Name)
	}
	if c.Path != "" {
		if !strings.HasPrefix(c.Path, "/") {
			v.addf("%s: cookie path %q does not begin with /", where(), c.Path)
		} else if !isCookieAttr(c.Path) {
			v.addf("%s: cookie path %q has a character a cookie attribute cannot carry", where(), c.Path)
		}
	}
	if c.Domain != "" && !isCookieDomain(c.Domain) {
		v.addf("%s: cookie domain %q is not a domain name", where(), c.Domain)
	}
	if c.MaxAge < 0 {
		v.addf("%s: cookie max age %v is negative", where(), c.MaxAge)
	}
	switch c.Secure {
	case "", SecureAuto, SecureAlways, SecureNever:
	default:
		v.addf("%s: unknown cookie secure mode %q", where(), c.Secure)
	}
	switch c.SameSite {
	case "", SameSiteLax, SameSiteStrict, SameSiteNone:
	default:
		v.addf("%s: unknown cookie SameSite %q", where(), c.SameSite)
	}
	if c.SameSite == SameSiteNone && c.Secure == SecureNever {
		v.addf("%s: cookie SameSite=None requires Secure, but secure is Never", where())
	}
}

// checkHost accepts "", DNS names and "*." wildcards of them. Case is not checked:
// the matcher folds it.
func checkHost(h string) error {
	if h == "" {
		return nil
	}
	name := h
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		name = rest
	}
	if len(name) > 253 {
		return errors.New("longer than 253 characters")
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("not a DNS name (empty or over-long label)")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !isAlnum(c) && c != '-' && c != '_' {
				return fmt.Errorf("not a DNS name (character %q)", c)
			}
		}
	}
	return nil
}

func checkPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return errors.New("path does not begin with /")
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x21 || c == 0x7f {
			return fmt.Errorf("path has a control or space character at %d", i)
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// isToken reports whether s is an RFC 7230 token: what header and cookie names are made of.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// isCookieAttr reports whether s can be a cookie attribute value (RFC 6265 av-octet:
// no controls and no ';').
func isCookieAttr(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == ';' {
			return false
		}
	}
	return true
}

func isCookieDomain(d string) bool {
	d = strings.TrimPrefix(d, ".")
	return d != "" && checkHost(d) == nil && !strings.HasPrefix(d, "*.")
}
