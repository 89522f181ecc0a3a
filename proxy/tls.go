package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// certStore holds the default certificate (self-signed, made at start) served when no
// snapshot certificate matches the SNI name, and the key pairs of the current
// snapshot by content: parsing and checking a pair costs ~0.1 ms, and most snapshots
// change no certificate.
type certStore struct {
	fallback *tls.Certificate
	parsed   map[[32]byte]*tls.Certificate // guarded by Server.updateMu
}

func newCertStore() (*certStore, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
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
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &certStore{
		fallback: &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		parsed:   map[[32]byte]*tls.Certificate{},
	}, nil
}

// certIndex maps SNI names to certificates for one snapshot.
type certIndex struct {
	exact    map[string]*tls.Certificate
	wildcard map[string]*tls.Certificate // keyed by the suffix after "*."
}

func pairKey(c *routetable.Certificate) [32]byte {
	h := sha256.New()
	h.Write(c.CertPEM)
	h.Write([]byte{0})
	h.Write(c.KeyPEM)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// compileCerts indexes the snapshot's certificates, reusing the pairs already parsed
// for the previous snapshot and forgetting those no longer used. One that does not
// parse is left out with a log line (its hosts get the default certificate) rather
// than refusing the whole table: the translator already validated the Secrets, and a
// table without one host's certificate serves everyone else. The first certificate
// that names a host wins, as the snapshot is sorted. Callers hold Server.updateMu.
func (cs *certStore) compile(certs []routetable.Certificate, log logr.Logger) *certIndex {
	idx := &certIndex{exact: map[string]*tls.Certificate{}, wildcard: map[string]*tls.Certificate{}}
	parsed := make(map[[32]byte]*tls.Certificate, len(certs))
	for i := range certs {
		c := &certs[i]
		k := pairKey(c)
		pair := cs.parsed[k]
		if pair == nil {
			p, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
			if err != nil {
				log.Error(err, "TLS certificate not usable; its hosts get the default certificate", "secret", c.Source)
				continue
			}
			pair = &p
		}
		parsed[k] = pair
		for _, h := range c.Hosts {
			h = strings.ToLower(strings.TrimSuffix(h, "."))
			if suffix, ok := strings.CutPrefix(h, "*."); ok {
				if _, taken := idx.wildcard[suffix]; !taken {
					idx.wildcard[suffix] = pair
				}
			} else if _, taken := idx.exact[h]; !taken {
				idx.exact[h] = pair
			}
		}
	}
	cs.parsed = parsed
	return idx
}

func (idx *certIndex) lookup(name string) *tls.Certificate {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if c := idx.exact[name]; c != nil {
		return c
	}
	// A wildcard covers exactly one label, which must not be empty.
	if i := strings.IndexByte(name, '.'); i > 0 {
		return idx.wildcard[name[i+1:]]
	}
	return nil
}

// tlsConfig serves certificates by SNI from the current snapshot (the default
// certificate for other names, and for clients that send no SNI), and offers HTTP/2
// and HTTP/1.1 by ALPN.
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
			return s.certs.fallback, nil
		},
	}
}
