package translate

import (
	"strings"
	"testing"
)

func TestDecodeObjects(t *testing.T) {
	const doc = `
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: a}
  spec: {ports: [{port: 80}]}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: ignored-kind}
---
# an empty document
---
apiVersion: example.com/v1
kind: Unknown
metadata: {name: unregistered}
---
apiVersion: v1
kind: Secret
metadata: {name: tls, namespace: shop}
type: kubernetes.io/tls
data: {tls.crt: Y3J0}
stringData: {tls.key: key}
---
apiVersion: v1
kind: Service
metadata: {name: a}
spec: {ports: [{port: 81}]}
---
apiVersion: sticky-ingress.io/v1alpha1
kind: StickyPolicy
metadata: {name: p, namespace: shop}
spec: {targetRefs: [{name: a}], type: Cookie}
`
	objs, err := DecodeObjects([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	in := InputsFromObjects(objs)
	if len(in.Services) != 1 || in.Services[0].Namespace != "default" || in.Services[0].Spec.Ports[0].Port != 81 {
		t.Errorf("services %+v: want default/a, the later one (port 81)", in.Services)
	}
	if len(in.Secrets) != 1 || string(in.Secrets[0].Data["tls.crt"]) != "crt" || string(in.Secrets[0].Data["tls.key"]) != "key" {
		t.Errorf("secret data %q: want stringData merged into data", in.Secrets[0].Data)
	}
	if len(in.StickyPolicies) != 1 || in.StickyPolicies[0].Spec.TargetRefs[0].Name != "a" {
		t.Errorf("policies %+v", in.StickyPolicies)
	}
	if len(objs) != 5 {
		t.Errorf("decoded %d objects, want 5 (Deployment kept as an object, Unknown skipped)", len(objs))
	}
}

func TestDecodeObjectsErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field": "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {portz: []}\n",
		"bad yaml":      "apiVersion: v1\nkind: Service\nmetadata: {name: a\n",
		"wrong type":    "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: a}\nspec: {rules: 3}\n",
	} {
		if _, err := DecodeObjects([]byte("---\n" + doc)); err == nil || !strings.Contains(err.Error(), "document") {
			t.Errorf("%s: error %v, want one naming the document", name, err)
		}
	}
}
