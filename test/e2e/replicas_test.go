//go:build e2e

package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplicasHonourEachOthersCookies: two replicas with one key file make the same
// decision for the same cookie, with no shared state between them.
func TestReplicasHonourEachOthersCookies(t *testing.T) {
	second, err := launchController("replica-2", "--cookie-key-file="+sharedKeyFile, "--leader-elect=false")
	if err != nil {
		t.Fatal(err)
	}
	defer second.stop()

	host := deploy(t, shared, "replica", 4, map[string]string{"sticky-ingress.io/affinity": "cookie"}).host
	routed(t, second, host)

	for i := 0; i < 4; i++ {
		u := newUser("198.18.60.1")
		pinned := stickTo(t, u, shared, host, 2)
		if got := stickTo(t, u, second, host, 3); got != pinned {
			t.Fatalf("replica 1 pinned %s, replica 2 sent the same cookie to %s", pinned, got)
		}
	}
}

// TestCookieKeyRotation: a key added to the file verifies at once; when it becomes
// the signing key, cookies signed by the old key keep working.
func TestCookieKeyRotation(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "keys")
	oldKey, newKey := "rotation-old-key-0123456789abcdef", "rotation-new-key-0123456789abcdef"
	if err := os.WriteFile(keyFile, []byte(oldKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := launchController("rotation", "--cookie-key-file="+keyFile)
	if err != nil {
		t.Fatal(err)
	}
	defer c.stop()

	host := deploy(t, c, "rotate", 3, map[string]string{"sticky-ingress.io/affinity": "cookie"}).host

	u := newUser("198.18.61.1")
	pinned := stickTo(t, u, c, host, 3)
	if err := os.WriteFile(keyFile, []byte(newKey+"\n"+oldKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, func() error {
		if !strings.Contains(c.logs.String(), "cookie keys reloaded") {
			return errors.New("key file not reloaded yet")
		}
		return nil
	})
	if got := stickTo(t, u, c, host, 5); got != pinned {
		t.Fatalf("old cookie went to %s after rotation, was %s", got, pinned)
	}
}
