package translate

import "strings"

// Host names are checked on every build for every rule and TLS host, 10k and more. The
// apimachinery validators do it with regular expressions (and the wildcard one compiles
// its expression on every call), which cost more than all the rest of a route's
// handling; these functions accept exactly the same strings (TestHostChecksAgree,
// FuzzHostChecks).

// maxHostLength is validation.DNS1123SubdomainMaxLength.
const maxHostLength = 253

// isSubdomain is validation.IsDNS1123Subdomain(s) reporting no error.
func isSubdomain(s string) bool {
	return len(s) <= maxHostLength && subdomainSyntax(s)
}

// isWildcardSubdomain is validation.IsWildcardDNS1123Subdomain(s) reporting no error.
func isWildcardSubdomain(s string) bool {
	return len(s) <= maxHostLength && strings.HasPrefix(s, "*.") && subdomainSyntax(s[2:])
}

// subdomainSyntax matches [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*:
// dot-separated labels of lower-case letters, digits and inner hyphens.
func subdomainSyntax(s string) bool {
	label := 0 // length of the current label so far
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			label++
		case c == '-':
			if label == 0 {
				return false
			}
			label++
		case c == '.':
			if label == 0 || s[i-1] == '-' {
				return false
			}
			label = 0
		default:
			return false
		}
	}
	return label > 0 && s[len(s)-1] != '-'
}
