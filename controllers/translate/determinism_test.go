package translate

import (
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func shuffle[T any](r *rand.Rand, s []T) {
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
}

// TestShuffledInputsGiveTheSameResult: Build depends on no input order (and so on no
// map order either), for every golden case. (Objects are identified by kind and
// namespace/name, as in a cluster; InputsFromObjects removes duplicates.)
func TestShuffledInputsGiveTheSameResult(t *testing.T) {
	cases := map[string]Inputs{}
	for _, in := range goldenCases(t) {
		cases[strings.TrimSuffix(filepath.Base(in), ".in.yaml")] = caseInputs(t, in)
	}
	for name, inputs := range cases {
		t.Run(name, func(t *testing.T) {
			want := Build(inputs)
			for seed := range uint64(8) {
				r := rand.New(rand.NewPCG(seed, 42))
				in := inputs
				in.Ingresses = clone(inputs.Ingresses)
				in.IngressClasses = clone(inputs.IngressClasses)
				in.Services = clone(inputs.Services)
				in.EndpointSlices = clone(inputs.EndpointSlices)
				in.Secrets = clone(inputs.Secrets)
				in.StickyPolicies = clone(inputs.StickyPolicies)
				shuffle(r, in.Ingresses)
				shuffle(r, in.IngressClasses)
				shuffle(r, in.Services)
				shuffle(r, in.EndpointSlices)
				shuffle(r, in.Secrets)
				shuffle(r, in.StickyPolicies)
				for i := range in.EndpointSlices {
					in.EndpointSlices[i].Endpoints = clone(in.EndpointSlices[i].Endpoints)
					shuffle(r, in.EndpointSlices[i].Endpoints)
				}
				got := Build(in)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("seed %d: the result depends on input order:\n%s", seed,
						lineDiff(string(render(t, want)), string(render(t, got))))
				}
			}
		})
	}
}

func clone[T any](s []T) []T { return append([]T(nil), s...) }

// TestBuildDoesNotModifyInputs: the objects come from the informer cache, which must
// not be written to.
func TestBuildDoesNotModifyInputs(t *testing.T) {
	for _, in := range goldenCases(t) {
		inputs := caseInputs(t, in)
		snapshot := deepCopyInputs(inputs)
		Build(inputs)
		if !reflect.DeepEqual(snapshot, inputs) {
			t.Errorf("%s: Build modified its inputs", in)
		}
	}
}

func deepCopyInputs(in Inputs) Inputs {
	out := in
	out.Ingresses = nil
	for _, o := range in.Ingresses {
		out.Ingresses = append(out.Ingresses, *o.DeepCopy())
	}
	out.IngressClasses = nil
	for _, o := range in.IngressClasses {
		out.IngressClasses = append(out.IngressClasses, *o.DeepCopy())
	}
	out.Services = nil
	for _, o := range in.Services {
		out.Services = append(out.Services, *o.DeepCopy())
	}
	out.EndpointSlices = nil
	for _, o := range in.EndpointSlices {
		out.EndpointSlices = append(out.EndpointSlices, *o.DeepCopy())
	}
	out.Secrets = nil
	for _, o := range in.Secrets {
		out.Secrets = append(out.Secrets, *o.DeepCopy())
	}
	out.StickyPolicies = nil
	for _, o := range in.StickyPolicies {
		out.StickyPolicies = append(out.StickyPolicies, *o.DeepCopy())
	}
	return out
}
