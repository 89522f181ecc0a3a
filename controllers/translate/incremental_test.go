package translate

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// allVersioned gives every object a resourceVersion, as listed objects have: what the
// Cache's fast path needs.
func allVersioned(in Inputs) Inputs {
	in = versioned(in)
	in.Ingresses, in.IngressClasses, in.Services = clone(in.Ingresses), clone(in.IngressClasses), clone(in.Services)
	in.Secrets, in.StickyPolicies = clone(in.Secrets), clone(in.StickyPolicies)
	for i := range in.Ingresses {
		in.Ingresses[i].ResourceVersion = "1"
	}
	for i := range in.IngressClasses {
		in.IngressClasses[i].ResourceVersion = "1"
	}
	for i := range in.Services {
		in.Services[i].ResourceVersion = "1"
	}
	for i := range in.Secrets {
		in.Secrets[i].ResourceVersion = "1"
	}
	for i := range in.StickyPolicies {
		in.StickyPolicies[i].ResourceVersion = "1"
	}
	return in
}

// mutator changes one object at a time, giving it a new resourceVersion as the API
// server would, and copying what it changes (earlier inputs stay as they were).
type mutator struct {
	r  *rand.Rand
	rv int
}

func (m *mutator) version() string { m.rv++; return fmt.Sprint(5000 + m.rv) }

// sliceChange changes the EndpointSlices only, in one of the ways a cluster does.
func (m *mutator) sliceChange(in *Inputs) string {
	in.EndpointSlices = clone(in.EndpointSlices)
	n := len(in.EndpointSlices)
	var s *discoveryv1.EndpointSlice
	if n > 0 {
		s = &in.EndpointSlices[m.r.IntN(n)]
	}
	switch k := m.r.IntN(7); {
	case s == nil || k == 0: // a new slice, for an existing Service or not
		svc := "missing"
		if len(in.Services) > 0 && m.r.IntN(4) > 0 {
			svc = in.Services[m.r.IntN(len(in.Services))].Name
		}
		ns := "default"
		if len(in.Services) > 0 {
			ns = in.Services[m.r.IntN(len(in.Services))].Namespace
		}
		name := fmt.Sprintf("%s-extra-%d", svc, m.rv)
		port := ""
		if s != nil && len(s.Ports) > 0 && s.Ports[0].Name != nil {
			port = *s.Ports[0].Name
		}
		in.EndpointSlices = append(in.EndpointSlices, discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: m.version(), Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(port), Port: ptr.To(int32(8080))}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{fmt.Sprintf("10.77.%d.%d", m.rv/250, m.rv%250+1)}}},
		})
		return "slice added to " + svc
	case k == 1: // one goes
		i := m.r.IntN(n)
		in.EndpointSlices = append(in.EndpointSlices[:i], in.EndpointSlices[i+1:]...)
		return "slice deleted"
	case k == 2: // relabelled to another Service
		if len(in.Services) > 0 {
			s.Labels = map[string]string{discoveryv1.LabelServiceName: in.Services[m.r.IntN(len(in.Services))].Name}
			s.ResourceVersion = m.version()
		}
		return "slice relabelled"
	case k == 3: // edited without a resourceVersion (--manifests)
		s.ResourceVersion = ""
		fallthrough
	default: // an endpoint turns (not) ready, or one joins
		s.Endpoints = clone(s.Endpoints)
		if len(s.Endpoints) > 0 && m.r.IntN(2) == 0 {
			e := &s.Endpoints[m.r.IntN(len(s.Endpoints))]
			e.Conditions.Ready = ptr.To(m.r.IntN(2) == 0)
		} else {
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.66.%d.%d", m.rv/250, m.rv%250+1)}})
		}
		if s.ResourceVersion != "" {
			s.ResourceVersion = m.version()
		}
		return "slice edited"
	}
}

// otherChange changes an object of another kind (or only the input order).
func (m *mutator) otherChange(in *Inputs) string {
	switch m.r.IntN(4) {
	case 0:
		if len(in.Ingresses) > 0 {
			in.Ingresses = clone(in.Ingresses)
			ing := &in.Ingresses[m.r.IntN(len(in.Ingresses))]
			ing.Annotations = map[string]string{"sticky-ingress.io/affinity": []string{"cookie", "header", "source-ip"}[m.r.IntN(3)]}
			ing.ResourceVersion = m.version()
			return "ingress annotations changed"
		}
	case 1:
		if len(in.Services) > 0 {
			in.Services = clone(in.Services)
			i := m.r.IntN(len(in.Services))
			in.Services = append(in.Services[:i], in.Services[i+1:]...)
			return "service deleted"
		}
	case 2:
		if len(in.Services) > 0 {
			in.Services = clone(in.Services)
			in.Services[m.r.IntN(len(in.Services))].ResourceVersion = "" // unversioned: no fast path
			return "service unversioned"
		}
	}
	shuffle(m.r, in.EndpointSlices)
	shuffle(m.r, in.Services)
	return "reordered"
}

// reversion gives an unversioned Service a version again, so that the fast path comes
// back after the full build it forced.
func (m *mutator) reversion(in *Inputs) {
	for i := range in.Services {
		if in.Services[i].ResourceVersion == "" {
			in.Services = clone(in.Services)
			in.Services[i].ResourceVersion = m.version()
		}
	}
}

// TestIncrementalBuildMatchesFullBuild: along random changes, a Cache gives what a
// build from scratch gives, and the fast path is taken when only slices changed.
func TestIncrementalBuildMatchesFullBuild(t *testing.T) {
	cases := map[string]Inputs{"scale": scaleInputs(30, 5)}
	for _, path := range goldenCases(t) {
		cases[strings.TrimSuffix(filepath.Base(path), ".in.yaml")] = caseInputs(t, path)
	}
	for name, base := range cases {
		t.Run(name, func(t *testing.T) {
			m := &mutator{r: rand.New(rand.NewPCG(uint64(len(name)), 3))}
			in := allVersioned(base)
			in.Cache = NewCache()
			last := Build(in)
			fast := 0
			for step := range 60 {
				what := "nothing"
				switch {
				case step%10 == 9:
					what = m.otherChange(&in)
				case step%7 != 6:
					m.reversion(&in)
					what = m.sliceChange(&in)
				}
				// As the Translator does: the last Result's LastGood goes in.
				in.LastGood = last.LastGood
				before := in.Cache.incrementalBuilds
				got := Build(in)
				if in.Cache.incrementalBuilds > before {
					fast++
				}
				uncached := in
				uncached.Cache = nil
				if want := Build(uncached); !reflect.DeepEqual(got, want) {
					t.Fatalf("step %d (%s):\n%s", step, what, lineDiff(string(render(t, want)), string(render(t, got))))
				}
				last = got
			}
			t.Logf("%d of 60 builds took the fast path", fast)
			if fast < 20 {
				t.Errorf("%d of 60 builds took the fast path", fast)
			}
		})
	}
}
