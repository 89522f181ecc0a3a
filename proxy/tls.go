package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// certStore holds the default certificate (self-signed, made at start) served when no
// snapshot certificate matches the SNI name.
type certStore struct {
	fallback *tls.Certificate
}

func newCertStore() (*certStore, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "sticky-ingress default certificate"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"sticky-ingress.invalid"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &certStore{fallback: &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}, nil
}

// certIndex maps SNI names to certificates for one snapshot.
type certIndex struct {
	exact    map[string]*tls.Certificate
	wildcard map[string]*tls.Certificate // keyed by the suffix after "*."
}

// parsedCerts remembers key pairs by content across snapshots: parsing and checking a
// pair costs ~0.1 ms, and most snapshots change no certificate.
var parsedCerts sync.Map // [32]byte -> *tls.Certificate

func parseKeyPair(c routetable.Certificate) (*tls.Certificate, error) {
	h := sha256.New()
	h.Write(c.CertPEM)
	h.Write([]byte{0})
	h.Write(c.KeyPEM)
	var k [32]byte
	h.Sum(k[:0])
	if v, ok := parsedCerts.Load(k); ok {
		return v.(*tls.Certificate), nil
	}
	pair, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
	if err != nil {
		return nil, err
	}
	parsedCerts.Store(k, &pair)
	return &pair, nil
}

// compileCerts indexes the snapshot's certificates. One that does not parse is left
// out with a log line (its hosts get the default certificate) rather than refusing
// the whole table: the translator already validated them, so this is defence only.
func compileCerts(certs []routetable.Certificate, log logr.Logger) (*certIndex, error) {
	idx := &certIndex{exact: map[string]*tls.Certificate{}, wildcard: map[string]*tls.Certificate{}}
	for _, c := range certs {
		pair, err := parseKeyPair(c)
		if err != nil {
			log.Error(err, "TLS certificate not usable; its hosts get the default certificate", "secret", c.Source)
			continue
		}
		for _, h := range c.Hosts {
			h = strings.ToLower(h)
			if suffix, ok := strings.CutPrefix(h, "*."); ok {
				if _, taken := idx.wildcard[suffix]; !taken {
					idx.wildcard[suffix] = pair
				}
			} else if _, taken := idx.exact[h]; !taken {
				idx.exact[h] = pair
			}
		}
	}
	return idx, nil
}

func (idx *certIndex) lookup(name string) *tls.Certificate {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if c := idx.exact[name]; c != nil {
		return c
	}
	if _, suffix, ok := strings.Cut(name, "."); ok {
		return idx.wildcard[suffix]
	}
	return nil
}

// tlsConfig serves certificates by SNI from the current snapshot, HTTP/2 and HTTP/1.1.
func (s *Server) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if c := s.current.Load(); c != nil && c.certs != nil {
				if cert := c.certs.lookup(hello.ServerName); cert != nil {
					return cert, nil
				}
			}
			if s.certs.fallback == nil {
				return nil, fmt.Errorf("no certificate for %q", hello.ServerName)
			}
			return s.certs.fallback, nil
		},
	}
}
