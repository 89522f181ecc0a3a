package translate

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"sync"
)

// CertCache remembers which certificate/key pairs tls.X509KeyPair accepted, keyed by
// their content, so that a rebuild does not re-check 10k unchanged Secrets (an RSA
// pair costs ~0.1ms). The caller owns it and passes the same one to every Build;
// entries a build did not use are dropped at the end of the next build, so it holds
// only live Secrets. It changes no result, only how fast one comes. Safe for
// concurrent use.
type CertCache struct {
	mu        sync.Mutex
	prev, cur map[[sha256.Size]byte]string
}

// NewCertCache returns an empty cache.
func NewCertCache() *CertCache {
	return &CertCache{prev: map[[sha256.Size]byte]string{}, cur: map[[sha256.Size]byte]string{}}
}

// check returns "" when crt and key are a valid pair, else tls.X509KeyPair's error.
func (c *CertCache) check(crt, key []byte) string {
	if c == nil {
		return checkPair(crt, key)
	}
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(crt)))
	h.Write(n[:])
	h.Write(crt)
	h.Write(key)
	var k [sha256.Size]byte
	h.Sum(k[:0])

	c.mu.Lock()
	v, ok := c.cur[k]
	if !ok {
		v, ok = c.prev[k]
		if ok {
			c.cur[k] = v
		}
	}
	c.mu.Unlock()
	if ok {
		return v
	}
	v = checkPair(crt, key)
	c.mu.Lock()
	c.cur[k] = v
	c.mu.Unlock()
	return v
}

// endBuild forgets the pairs no build has used since the previous endBuild.
func (c *CertCache) endBuild() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.prev, c.cur = c.cur, make(map[[sha256.Size]byte]string, len(c.cur))
	c.mu.Unlock()
}

func checkPair(crt, key []byte) string {
	if _, err := tls.X509KeyPair(crt, key); err != nil {
		return err.Error()
	}
	return ""
}
