package translate

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

var hostSamples = []string{
	"", ".", "a", "-", "a-", "-a", "a-b", "a--b", "a.b", "a..b", ".a", "a.", "a.-b", "a-.b",
	"shop.example.com", "Shop.example.com", "xn--bcher-kva.example", "1.2.3.4", "a_b.example",
	"*", "*.", "*.a", "*.example.com", "*.*.example.com", "a.*.example.com", "**.example.com",
	"*example.com", "*.-a.com", "*.a-.com", "a b", "a\x00b", "ä.example", "a.b.c.d.e.f",
	strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a.", 126) + "a",
	strings.Repeat("a.", 126) + "ab", "*." + strings.Repeat("a.", 125) + "a", "*." + strings.Repeat("a.", 125) + "ab",
}

func TestHostChecksAgree(t *testing.T) {
	for _, s := range hostSamples {
		checkHostAgrees(t, s)
	}
}

func FuzzHostChecks(f *testing.F) {
	for _, s := range hostSamples {
		f.Add(s)
	}
	f.Fuzz(checkHostAgrees)
}

func checkHostAgrees(t *testing.T, s string) {
	if got, want := isSubdomain(s), len(validation.IsDNS1123Subdomain(s)) == 0; got != want {
		t.Errorf("isSubdomain(%q) = %v, validation says %v", s, got, want)
	}
	if got, want := isWildcardSubdomain(s), len(validation.IsWildcardDNS1123Subdomain(s)) == 0; got != want {
		t.Errorf("isWildcardSubdomain(%q) = %v, validation says %v", s, got, want)
	}
}
