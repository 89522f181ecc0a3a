package translate

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	stickyv1 "github.com/sticky-ingress/sticky-ingress/api/v1alpha1"
)

// decoder knows the client-go kinds and ours; strict, so that a misspelt field in a
// manifest is an error rather than a silently missing setting.
var decoder = func() runtime.Decoder {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := stickyv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer()
}()

// DecodeObjects reads a multi-document YAML (or JSON) stream into typed objects.
// Documents of kinds no scheme knows (a CRD, a HelmRelease, …) are skipped; v1 Lists
// are flattened. Errors name the document.
func DecodeObjects(data []byte) ([]runtime.Object, error) {
	rd := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []runtime.Object
	for doc := 1; ; doc++ {
		var raw runtime.RawExtension
		if err := rd.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return objs, fmt.Errorf("document %d: %w", doc, err)
		}
		raw.Raw = bytes.TrimSpace(raw.Raw)
		if len(raw.Raw) == 0 || string(raw.Raw) == "null" {
			continue
		}
		var err error
		if objs, err = decodeInto(objs, raw.Raw); err != nil {
			return objs, fmt.Errorf("document %d: %w", doc, err)
		}
	}
}

func decodeInto(objs []runtime.Object, raw []byte) ([]runtime.Object, error) {
	obj, _, err := decoder.Decode(raw, nil, nil)
	if runtime.IsNotRegisteredError(err) {
		return objs, nil
	}
	if err != nil {
		return objs, err
	}
	if list, ok := obj.(*corev1.List); ok {
		for i, item := range list.Items {
			if objs, err = decodeInto(objs, item.Raw); err != nil {
				return objs, fmt.Errorf("item %d: %w", i, err)
			}
		}
		return objs, nil
	}
	return append(objs, obj), nil
}

// InputsFromObjects sorts objects into Inputs by kind, ignoring other kinds, and does
// what the API server would have done on the way in: namespaced objects without a
// namespace get "default" (as kubectl apply gives them), a Secret's stringData is
// merged into its data, and of two objects with the same kind and namespace/name the
// later one is kept (as applying the files in order would). objs are not modified.
// The configuration fields are left for the caller.
func InputsFromObjects(objs []runtime.Object) Inputs {
	var in Inputs
	ns := func(n *string) {
		if *n == "" {
			*n = "default"
		}
	}
	for _, obj := range objs {
		switch o := obj.(type) {
		case *networkingv1.Ingress:
			c := *o
			ns(&c.Namespace)
			in.Ingresses = append(in.Ingresses, c)
		case *networkingv1.IngressClass:
			in.IngressClasses = append(in.IngressClasses, *o)
		case *corev1.Service:
			c := *o
			ns(&c.Namespace)
			in.Services = append(in.Services, c)
		case *discoveryv1.EndpointSlice:
			c := *o
			ns(&c.Namespace)
			in.EndpointSlices = append(in.EndpointSlices, c)
		case *corev1.Secret:
			c := *o
			ns(&c.Namespace)
			if len(c.StringData) > 0 {
				data := make(map[string][]byte, len(c.Data)+len(c.StringData))
				for k, v := range c.Data {
					data[k] = v
				}
				for k, v := range c.StringData {
					data[k] = []byte(v)
				}
				c.Data, c.StringData = data, nil
			}
			in.Secrets = append(in.Secrets, c)
		case *stickyv1.StickyPolicy:
			c := *o
			ns(&c.Namespace)
			in.StickyPolicies = append(in.StickyPolicies, c)
		}
	}
	dedupe(&in)
	return in
}

// dedupe keeps the last object of each namespace/name, in the order of first appearance.
func dedupe(in *Inputs) {
	in.Ingresses = lastWins(in.Ingresses, func(o *networkingv1.Ingress) nsName { return nsName{Namespace: o.Namespace, Name: o.Name} })
	in.IngressClasses = lastWins(in.IngressClasses, func(o *networkingv1.IngressClass) nsName { return nsName{Name: o.Name} })
	in.Services = lastWins(in.Services, func(o *corev1.Service) nsName { return nsName{Namespace: o.Namespace, Name: o.Name} })
	in.EndpointSlices = lastWins(in.EndpointSlices, func(o *discoveryv1.EndpointSlice) nsName { return nsName{Namespace: o.Namespace, Name: o.Name} })
	in.Secrets = lastWins(in.Secrets, func(o *corev1.Secret) nsName { return nsName{Namespace: o.Namespace, Name: o.Name} })
	in.StickyPolicies = lastWins(in.StickyPolicies, func(o *stickyv1.StickyPolicy) nsName { return nsName{Namespace: o.Namespace, Name: o.Name} })
}

func lastWins[T any](s []T, key func(*T) nsName) []T {
	at := make(map[nsName]int, len(s))
	out := s[:0:0]
	for i := range s {
		k := key(&s[i])
		if j, ok := at[k]; ok {
			out[j] = s[i]
			continue
		}
		at[k] = len(out)
		out = append(out, s[i])
	}
	return out
}
