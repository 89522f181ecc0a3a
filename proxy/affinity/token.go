package affinity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Cookie token format, version 1:
//
//	"1." + kid + base64url(HMAC-SHA256(key, "sticky-ingress/cookie/v1\x00" + endpoint ID))[:22]
//
// where kid is 2 base64url characters (12 bits) of HMAC-SHA256(key, "sticky-ingress/
// cookie-key-id/v1"). 22 characters carry 132 bits of the MAC: unguessable, yet short.
// The version prefix lets a later format live next to this one during an upgrade, so
// that old cookies are never stuck with an old parser. The key id tells a token of a
// key this proxy no longer has (retired, or the random key of a previous process: no
// session) from a token of an endpoint that is gone (a session that falls back); it is
// too short to help anyone guess a key. The value is opaque: it names no address and
// cannot be inverted; the proxy maps it back through a table built per snapshot.
const (
	tokenVersion = "1."
	tokenKIDLen  = 2
	tokenMACLen  = 22
	tokenLen     = len(tokenVersion) + tokenKIDLen + tokenMACLen
	tokenContext = "sticky-ingress/cookie/v1\x00"
	kidContext   = "sticky-ingress/cookie-key-id/v1"
)

// KeyRing holds the cookie keys: the first signs new cookies, every key verifies (so a
// new key can be introduced on every replica before it signs, and an old one retired
// after its cookies have expired). A KeyRing is immutable.
type KeyRing struct {
	keys [][]byte
	kids []string // key ids, as in tokens
}

// NewKeyRing copies keys; keys[0] signs. It fails when there is no key or a key is empty.
func NewKeyRing(keys [][]byte) (*KeyRing, error) {
	if len(keys) == 0 {
		return nil, errors.New("cookie key ring: no keys")
	}
	k := &KeyRing{keys: make([][]byte, len(keys)), kids: make([]string, len(keys))}
	for i, key := range keys {
		if len(key) == 0 {
			return nil, fmt.Errorf("cookie key ring: key %d is empty", i)
		}
		k.keys[i] = append([]byte(nil), key...)
		m := hmac.New(sha256.New, key)
		m.Write([]byte(kidContext))
		k.kids[i] = base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:tokenKIDLen]
	}
	return k, nil
}

// Len is the number of keys.
func (k *KeyRing) Len() int { return len(k.keys) }

// Token is the cookie value for the endpoint identity id under the signing key.
func (k *KeyRing) Token(id string) string { return k.token(0, id) }

// tokens returns id's token under every key, the signing key's first.
func (k *KeyRing) tokens(id string) []string {
	out := make([]string, len(k.keys))
	for i := range k.keys {
		out[i] = k.token(i, id)
	}
	return out
}

func (k *KeyRing) token(i int, id string) string {
	m := hmac.New(sha256.New, k.keys[i])
	m.Write([]byte(tokenContext))
	m.Write([]byte(id))
	return tokenVersion + k.kids[i] + base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:tokenMACLen]
}

// signedHere reports whether the token v (well-formed) names a key of the ring.
func (k *KeyRing) signedHere(v string) bool {
	kid := v[len(tokenVersion) : len(tokenVersion)+tokenKIDLen]
	for _, x := range k.kids {
		if x == kid {
			return true
		}
	}
	return false
}

// wellFormed reports whether v has the shape of a version-1 token. A well-formed value
// of a key in the ring that maps to no endpoint is taken as a session whose endpoint
// is gone (see cookiePicker); anything else is no session at all.
func wellFormed(v string) bool {
	if len(v) != tokenLen || !strings.HasPrefix(v, tokenVersion) {
		return false
	}
	for i := len(tokenVersion); i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
