package manifests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sticky-ingress/sticky-ingress/controllers/translate"
)

func TestLoadDemoManifests(t *testing.T) {
	objs, err := Load(filepath.Join("..", "..", "hack", "demo"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.Ingresses) != 3 || len(objs.Services) != 3 || len(objs.EndpointSlices) != 3 ||
		len(objs.StickyPolicies) != 1 || len(objs.IngressClasses) != 1 {
		t.Fatalf("loaded %d ingresses, %d services, %d slices, %d policies, %d classes",
			len(objs.Ingresses), len(objs.Services), len(objs.EndpointSlices), len(objs.StickyPolicies), len(objs.IngressClasses))
	}
	res := translate.Build(objs)
	if len(res.Snapshot.VirtualHosts) != 3 {
		t.Fatalf("demo serves %d hosts, want 3", len(res.Snapshot.VirtualHosts))
	}
	for _, ev := range res.Events {
		if ev.Warning() {
			t.Errorf("demo manifests raise a warning: %s", ev)
		}
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	t.Run("other files, hidden files and foreign kinds are skipped; namespace defaults", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "svc.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n")
		write(t, dir, "notes.txt", "not a manifest")
		write(t, dir, ".editor.yaml", ": broken")
		objs, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(objs.Services) != 1 || objs.Services[0].Namespace != "default" {
			t.Fatalf("services %+v", objs.Services)
		}
	})
	t.Run("an error names the file and the document", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "good.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n")
		write(t, dir, "bad.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {portz: []}\n")
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), "bad.yaml: document 2") {
			t.Fatalf("error %v, want it to name bad.yaml document 2", err)
		}
	})
}
