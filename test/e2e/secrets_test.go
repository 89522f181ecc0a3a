//go:build e2e

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestTLSSecretServedAndNeverLogged: a TLS Secret's certificate is served by SNI, and
// neither its key nor its certificate appears in the controller's (debug) log.
func TestTLSSecretServedAndNeverLogged(t *testing.T) {
	a := deploy(t, shared, "tls", 1, nil)
	der, kder := secureHost(t, a)
	eventually(t, 10*time.Second, func() error { return servesCertificateOf(shared, a.host) })
	logs := shared.logs.String()
	for name, secret := range map[string][]byte{"private key": kder, "certificate": der} {
		for _, enc := range []string{base64.StdEncoding.EncodeToString(secret)[:40], string(secret[:16])} {
			if strings.Contains(logs, enc) {
				t.Fatalf("the controller log contains the Secret's %s", name)
			}
		}
	}
	if strings.Contains(logs, "PRIVATE KEY") {
		t.Fatal("the controller log contains PEM key material")
	}
}

// secureHost gives a's host a certificate of its own: a TLS Secret, and an Ingress
// naming it for the host. It returns the certificate's and the key's DER.
func secureHost(t *testing.T, a app) (der, kder []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: a.host}, DNSNames: []string{a.host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	kder, _ = x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: a.ns},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
	})
	ing := newIngress(a.ns, "secure", a.host, "web", nil)
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{a.host}, SecretName: "tls"}}
	// The deploy Ingress routes "/"; this one adds TLS for the host on another path.
	ing.Spec.Rules[0].HTTP.Paths[0].Path = "/secure"
	create(t, ing)
	return der, kder
}

// servesCertificateOf reports whether c serves host's own certificate (secureHost)
// to a new TLS connection that asks for host.
func servesCertificateOf(c *controller, host string) error {
	conn, err := tls.Dial("tcp", c.httpsAddr, &tls.Config{ServerName: host, InsecureSkipVerify: true})
	if err != nil {
		return err
	}
	defer conn.Close()
	if cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != host {
		return errString("served certificate " + cn)
	}
	return nil
}

type errString string

func (e errString) Error() string { return string(e) }
