// Package manifests feeds the translator from a directory of YAML files instead of a
// cluster: the --manifests mode that `make demo` runs. The same translate.Build is used,
// so what works here works in a cluster.
package manifests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	stickyv1 "github.com/sticky-ingress/sticky-ingress/api/v1alpha1"
	"github.com/sticky-ingress/sticky-ingress/controllers"
)

var decoder = func() runtime.Decoder {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = stickyv1.AddToScheme(s)
	return serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer()
}()

// Decode reads every object in a multi-document YAML (or JSON) stream into objs.
// Kinds the translator does not read (Namespaces, Deployments, …) are skipped, so a
// directory may hold whole application manifests. source names the stream in errors.
func Decode(r io.Reader, source string, objs *controllers.Objects) error {
	rd := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	for doc := 1; ; doc++ {
		var raw runtime.RawExtension
		if err := rd.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("%s: document %d: %w", source, doc, err)
		}
		raw.Raw = bytes.TrimSpace(raw.Raw)
		if len(raw.Raw) == 0 || string(raw.Raw) == "null" {
			continue
		}
		obj, gvk, err := decoder.Decode(raw.Raw, nil, nil)
		if err != nil {
			if runtime.IsNotRegisteredError(err) {
				continue
			}
			return fmt.Errorf("%s: document %d: %w", source, doc, err)
		}
		if err := add(objs, obj); err != nil {
			return fmt.Errorf("%s: document %d (%s): %w", source, doc, gvk.Kind, err)
		}
	}
}

func add(objs *controllers.Objects, obj runtime.Object) error {
	switch o := obj.(type) {
	case *networkingv1.Ingress:
		objs.Ingresses = append(objs.Ingresses, *o)
	case *networkingv1.IngressClass:
		objs.IngressClasses = append(objs.IngressClasses, *o)
	case *corev1.Service:
		objs.Services = append(objs.Services, *o)
	case *discoveryv1.EndpointSlice:
		objs.EndpointSlices = append(objs.EndpointSlices, *o)
	case *corev1.Secret:
		objs.Secrets = append(objs.Secrets, *o)
	case *stickyv1.StickyPolicy:
		objs.Policies = append(objs.Policies, *o)
	case *corev1.List:
		for _, item := range o.Items {
			inner, _, err := decoder.Decode(item.Raw, nil, nil)
			if runtime.IsNotRegisteredError(err) {
				continue
			}
			if err != nil {
				return err
			}
			if err := add(objs, inner); err != nil {
				return err
			}
		}
	}
	return nil
}

// defaultNamespace gives namespaced objects without one the "default" namespace, as
// kubectl apply would.
func defaultNamespace(objs *controllers.Objects) {
	set := func(ns *string) {
		if *ns == "" {
			*ns = "default"
		}
	}
	for i := range objs.Ingresses {
		set(&objs.Ingresses[i].Namespace)
	}
	for i := range objs.Services {
		set(&objs.Services[i].Namespace)
	}
	for i := range objs.EndpointSlices {
		set(&objs.EndpointSlices[i].Namespace)
	}
	for i := range objs.Secrets {
		set(&objs.Secrets[i].Namespace)
	}
	for i := range objs.Policies {
		set(&objs.Policies[i].Namespace)
	}
}

// manifestFiles lists the YAML and JSON files under dir, sorted, skipping hidden ones.
func manifestFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if strings.HasPrefix(name, ".") && path != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && slices.Contains([]string{".yaml", ".yml", ".json"}, filepath.Ext(name)) {
			files = append(files, path)
		}
		return nil
	})
	slices.Sort(files)
	return files, err
}

// Load reads every manifest under dir.
func Load(dir string) (controllers.Objects, error) {
	var objs controllers.Objects
	files, err := manifestFiles(dir)
	if err != nil {
		return objs, fmt.Errorf("--manifests %s: %w", dir, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return objs, err
		}
		if err := Decode(bytes.NewReader(data), f, &objs); err != nil {
			return objs, err
		}
	}
	defaultNamespace(&objs)
	return objs, nil
}
