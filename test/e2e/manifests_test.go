//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestManifestsMode runs the binary with no cluster at all: --manifests on a directory,
// stickiness served from it, and an edit to a file picked up while running.
func TestManifestsMode(t *testing.T) {
	bs := startBackends(t, "manifests", 2)
	dir := t.TempDir()
	endpoints := func(list ...*backend) string {
		var b strings.Builder
		for _, be := range list {
			fmt.Fprintf(&b, "  - {addresses: [%q], conditions: {ready: true}, targetRef: {kind: Pod, name: %s, uid: %s}}\n", be.ip, be.name, be.uid)
		}
		return b.String()
	}
	write := func(list ...*backend) {
		doc := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: web, namespace: files}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: files, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: %d}]
endpoints:
%s---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: files, annotations: {sticky-ingress.io/affinity: cookie}}
spec:
  ingressClassName: sticky
  rules: [{host: files.example.test, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]
`, backendPort, endpoints(list...))
		// Write then rename, as editors and ConfigMap volumes do.
		tmp := filepath.Join(dir, ".web.yaml.tmp")
		if err := os.WriteFile(tmp, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "web.yaml")); err != nil {
			t.Fatal(err)
		}
	}
	write(bs...)
	c, err := launchProcess("manifests", "--manifests="+dir, "--cookie-key-file="+sharedKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	defer c.stop()
	const host = "files.example.test"
	routed(t, c, host)
	u := newUser("198.18.80.1")
	pinned := stickTo(t, u, c, host, 5)

	// Remove the pinned backend from the file: the session is rebalanced.
	write(others(bs, pinned)...)
	eventually(t, 10*time.Second, func() error {
		if r := u.get(t, c, host, "/"); r.server == pinned {
			return fmt.Errorf("still routed to removed %s", pinned)
		}
		return nil
	})
	stickTo(t, u, c, host, 3)
}
