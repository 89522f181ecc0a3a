package translate

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// checkSnapshot checks routetable's Validate and, beyond it, the order and
// consistency its doc comments promise the proxy.
func checkSnapshot(s *routetable.Snapshot) error {
	if s == nil {
		return fmt.Errorf("nil snapshot")
	}
	if err := s.Validate(); err != nil {
		return fmt.Errorf("routetable Validate: %w", err)
	}
	backends := map[string]bool{}
	used := map[string]bool{}
	for i, b := range s.Backends {
		if i > 0 && s.Backends[i-1].Name >= b.Name {
			return fmt.Errorf("backends not sorted or not unique at %q", b.Name)
		}
		backends[b.Name] = true
		for j, e := range b.Endpoints {
			if j > 0 && b.Endpoints[j-1].ID >= e.ID {
				return fmt.Errorf("backend %s: endpoint IDs not sorted or not unique at %q", b.Name, e.ID)
			}
			if _, _, err := net.SplitHostPort(e.Address); err != nil || e.ID == "" {
				return fmt.Errorf("backend %s: endpoint %+v", b.Name, e)
			}
		}
		if b.LoadBalance != routetable.RoundRobin && b.LoadBalance != routetable.LeastRequest {
			return fmt.Errorf("backend %s: load balance %q", b.Name, b.LoadBalance)
		}
		a := b.Affinity
		n := 0
		for _, set := range []bool{a.Cookie != nil, a.SourceIP != nil, a.Header != nil} {
			if set {
				n++
			}
		}
		if n > 1 {
			return fmt.Errorf("backend %s: more than one affinity", b.Name)
		}
		if n == 1 && a.Fallback != routetable.Rebalance && a.Fallback != routetable.Strict {
			return fmt.Errorf("backend %s: fallback %q", b.Name, a.Fallback)
		}
		if c := a.Cookie; c != nil && (c.Name == "" || c.MaxAge < 0 || (c.SameSite == routetable.SameSiteNone && c.Secure == routetable.SecureNever)) {
			return fmt.Errorf("backend %s: cookie %+v", b.Name, *c)
		}
		if h := a.Header; h != nil && h.Name == "" {
			return fmt.Errorf("backend %s: header affinity without a name", b.Name)
		}
		if a.BalanceFactor != 0 && a.BalanceFactor <= 1 {
			return fmt.Errorf("backend %s: balance factor %v", b.Name, a.BalanceFactor)
		}
	}
	group := func(h string) int {
		switch {
		case h == "":
			return 2
		case strings.HasPrefix(h, "*."):
			return 1
		}
		return 0
	}
	rank := map[routetable.PathType]int{routetable.PathExact: 0, routetable.PathPrefix: 1, routetable.PathImplementationSpecific: 2}
	for i, vh := range s.VirtualHosts {
		if i > 0 {
			p := s.VirtualHosts[i-1].Host
			if group(p) > group(vh.Host) || (group(p) == group(vh.Host) && p >= vh.Host) {
				return fmt.Errorf("virtual hosts not sorted or not unique at %q", vh.Host)
			}
		}
		if len(vh.Routes) == 0 {
			return fmt.Errorf("host %q has no routes", vh.Host)
		}
		seen := map[[2]string]bool{}
		for j, r := range vh.Routes {
			if _, ok := rank[r.PathType]; !ok || !strings.HasPrefix(r.Path, "/") {
				return fmt.Errorf("host %q: route %+v", vh.Host, r)
			}
			if !backends[r.Backend] {
				return fmt.Errorf("host %q: route %s to unknown backend %q", vh.Host, r.Path, r.Backend)
			}
			used[r.Backend] = true
			k := [2]string{r.Path, string(r.PathType)}
			if seen[k] {
				return fmt.Errorf("host %q: route %s %s twice", vh.Host, r.Path, r.PathType)
			}
			seen[k] = true
			if j > 0 {
				p := vh.Routes[j-1]
				if matchLen(p) < matchLen(r) || (matchLen(p) == matchLen(r) && rank[p.PathType] > rank[r.PathType]) {
					return fmt.Errorf("host %q: route %s %s before %s %s", vh.Host, p.Path, p.PathType, r.Path, r.PathType)
				}
			}
		}
	}
	if s.DefaultBackend != "" {
		if !backends[s.DefaultBackend] {
			return fmt.Errorf("default backend %q unknown", s.DefaultBackend)
		}
		used[s.DefaultBackend] = true
	}
	for name := range backends {
		if !used[name] {
			return fmt.Errorf("backend %q is used by nothing", name)
		}
	}
	hosts := map[string]bool{}
	for i, c := range s.Certificates {
		if i > 0 && s.Certificates[i-1].Source >= c.Source {
			return fmt.Errorf("certificates not sorted at %s", c.Source)
		}
		if len(c.Hosts) == 0 || !slices.IsSorted(c.Hosts) || len(c.CertPEM) == 0 || len(c.KeyPEM) == 0 {
			return fmt.Errorf("certificate %s: hosts %v, %d/%d PEM bytes", c.Source, c.Hosts, len(c.CertPEM), len(c.KeyPEM))
		}
		for _, h := range c.Hosts {
			if hosts[h] {
				return fmt.Errorf("host %s has two certificates", h)
			}
			hosts[h] = true
		}
	}
	return nil
}
