package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
)

// minKeyLen is the shortest cookie key accepted: shorter keys make HMAC tokens guessable.
const minKeyLen = 16

// readCookieKeys parses a cookie key file: one key per line, the first signs and all
// verify (so a new key is added second, rolled out, then moved first, and the old one
// removed after cookies have expired). Blank lines and lines starting with # are skipped.
func readCookieKeys(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--cookie-key-file: %w", err)
	}
	var keys [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		k := bytes.TrimSpace(sc.Bytes())
		if len(k) == 0 || k[0] == '#' {
			continue
		}
		if len(k) < minKeyLen {
			return nil, fmt.Errorf("--cookie-key-file %s: line %d: key is %d bytes, want at least %d", path, line, len(k), minKeyLen)
		}
		keys = append(keys, bytes.Clone(k))
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("--cookie-key-file %s: no keys", path)
	}
	return keys, nil
}

// ephemeralCookieKey is used when no key file is given: cookies then survive neither a
// restart nor a hop to another replica, which the log says loudly.
func ephemeralCookieKey(log logr.Logger) [][]byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	log.Info("no --cookie-key-file: using a random cookie key; affinity cookies will not survive a restart or be honoured by other replicas")
	return [][]byte{k}
}

// watchCookieKeys re-reads the key file when it changes (Kubernetes updates a mounted
// Secret by swapping a symlink, so the content is compared, not the mtime) and hands
// valid key sets to apply. A broken file is logged and the keys in use are kept.
func watchCookieKeys(ctx context.Context, path string, interval time.Duration, current [][]byte, apply func([][]byte) error, log logr.Logger) {
	last := bytes.Join(current, []byte{'\n'})
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		keys, err := readCookieKeys(path)
		if err != nil {
			log.Error(err, "cookie key file unreadable; keeping the keys in use")
			continue
		}
		joined := bytes.Join(keys, []byte{'\n'})
		if bytes.Equal(joined, last) {
			continue
		}
		if err := apply(keys); err != nil {
			log.Error(err, "new cookie keys rejected; keeping the keys in use")
			continue
		}
		last = joined
		log.Info("cookie keys reloaded", "keys", len(keys))
	}
}
