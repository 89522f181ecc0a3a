package translate

import (
	"fmt"
	"reflect"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// versioned gives every EndpointSlice a resourceVersion, as the API server does, so
// that the Cache may remember them.
func versioned(in Inputs) Inputs {
	in.EndpointSlices = clone(in.EndpointSlices)
	for i := range in.EndpointSlices {
		in.EndpointSlices[i].ResourceVersion = fmt.Sprint(1000 + i)
	}
	return in
}

// TestCacheChangesNoResult: every golden case gives the same Result with a Cache as
// without, on the first build and on later ones that take from the cache.
func TestCacheChangesNoResult(t *testing.T) {
	for _, path := range goldenCases(t) {
		in := versioned(caseInputs(t, path))
		want := Build(in)
		in.Cache = NewCache()
		for i := range 3 {
			if got := Build(in); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s, build %d with a Cache:\n%s", path, i, lineDiff(string(render(t, want)), string(render(t, got))))
			}
		}
	}
}

// endpointsOf maps backend names to their endpoint lists.
func endpointsOf(s *routetable.Snapshot) map[string][]routetable.Endpoint {
	out := map[string][]routetable.Endpoint{}
	for _, b := range s.Backends {
		out[b.Name] = b.Endpoints
	}
	return out
}

func sameArray(a, b []routetable.Endpoint) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// TestCacheFollowsChanges: a changed slice (new resourceVersion), a changed annotation,
// a slice without a resourceVersion and a deleted Service all give what a build
// without a Cache gives, and only the changed Service's endpoint list is new.
func TestCacheFollowsChanges(t *testing.T) {
	in := versioned(scaleInputs(40, 6))
	in.Cache = NewCache()
	check := func(what string) Result {
		t.Helper()
		uncached := in
		uncached.Cache = nil
		want, got := Build(uncached), Build(in)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n%s", what, lineDiff(string(render(t, want)), string(render(t, got))))
		}
		return got
	}
	first := endpointsOf(check("first build").Snapshot)

	// One endpoint of app-7 turns not ready; the API server bumps the slice's version.
	s := &in.EndpointSlices[14]
	if s.Labels["kubernetes.io/service-name"] != "app-7" {
		t.Fatalf("slice 14 is %s", s.Name)
	}
	s.Endpoints = clone(s.Endpoints)
	s.Endpoints[0].Conditions.Ready = ptr.To(false)
	s.ResourceVersion = "2000"
	second := endpointsOf(check("one slice changed").Snapshot)
	for name, eps := range second {
		changed := name == "ns-7/app-7:80"
		if sameArray(eps, first[name]) == changed {
			t.Errorf("backend %s: endpoint list reused %v, want %v", name, !changed, !changed)
		}
	}

	// Annotations are compared by value: a new map of equal content is a hit, an
	// edited one is parsed anew.
	in.Ingresses = clone(in.Ingresses)
	in.Ingresses[3].Annotations = map[string]string{"sticky-ingress.io/affinity": "source-ip", "unrelated": "x"}
	check("annotation added")
	in.Ingresses[3].Annotations = map[string]string{"sticky-ingress.io/affinity": "source-ip", "unrelated": "y"}
	check("unrelated annotation changed")
	in.Ingresses[3].Annotations = map[string]string{"sticky-ingress.io/affinity": "header"}
	check("annotation made invalid")

	// A slice without a resourceVersion is never taken from the cache.
	s.ResourceVersion = ""
	check("slice without a version")
	s.Endpoints[0].Conditions.Ready = ptr.To(true)
	check("unversioned slice edited in place")

	// Objects that are gone leave the cache.
	in.Services, in.EndpointSlices, in.Ingresses = nil, nil, nil
	check("everything deleted")
	if n := len(in.Cache.eps) + len(in.Cache.ann); n != 0 {
		t.Errorf("%d entries kept for objects that are gone", n)
	}
}

// BenchmarkBuild10kOneSliceChanged: the build after one EndpointSlice changed, with
// the Cache a Translator keeps and objects versioned as listed ones are.
func BenchmarkBuild10kOneSliceChanged(b *testing.B) {
	in := allVersioned(scaleInputs(10_000, 10))
	in.Cache = NewCache()
	Build(in)
	s := &in.EndpointSlices[len(in.EndpointSlices)/2]
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s.Endpoints[0].Conditions.Ready = ptr.To(i%2 == 0)
		s.ResourceVersion = fmt.Sprint(i + 1_000_000) // past versioned's
		Build(in)
	}
}
