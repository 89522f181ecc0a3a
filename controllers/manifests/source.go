package manifests

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/go-logr/logr"

	"github.com/sticky-ingress/sticky-ingress/controllers"
	"github.com/sticky-ingress/sticky-ingress/controllers/translate"
)

// Source watches a directory and rebuilds the route table whenever a file in it
// changes. A file that does not parse, or a table the proxy rejects, is logged with
// the file and field, and the last good table keeps serving.
type Source struct {
	Dir     string
	Builder controllers.Builder
	Sink    controllers.SnapshotSink
	Log     logr.Logger
	// Interval between looks at the directory (default 500ms). Polling, rather than
	// inotify, also catches edits through symlink swaps (ConfigMap volumes) and editors
	// that replace files.
	Interval time.Duration

	lastSum [sha256.Size]byte
	warned  map[translate.Event]bool
}

// Start reloads until ctx ends. The first load must succeed: a demo or test that
// starts on a broken directory should fail loudly.
func (s *Source) Start(ctx context.Context) error {
	if err := s.reload(); err != nil {
		return err
	}
	interval := s.Interval
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := s.reload(); err != nil {
			s.Log.Error(err, "manifests not applied; the previous route table keeps serving")
		}
	}
}

// reload rebuilds when the directory's content changed since the last good build.
func (s *Source) reload() error {
	sum, err := s.fingerprint()
	if err != nil {
		return err
	}
	if sum == s.lastSum {
		return nil
	}
	objs, err := Load(s.Dir)
	if err != nil {
		s.lastSum = sum // don't log the same broken file every tick
		return err
	}
	res := s.Builder.Build(objs)
	snap := res.Snapshot
	if err := s.Sink.Update(snap); err != nil {
		s.lastSum = sum
		return fmt.Errorf("route table rejected by the proxy: %w", err)
	}
	s.lastSum = sum
	s.logEvents(res.Events)
	s.Log.Info("route table served from manifests", "dir", s.Dir,
		"ingresses", len(objs.Ingresses), "hosts", len(snap.VirtualHosts), "backends", len(snap.Backends))
	return nil
}

// logEvents logs each problem once while it lasts: there is no API server to hold Events.
func (s *Source) logEvents(events []translate.Event) {
	next := make(map[translate.Event]bool, len(events))
	for _, ev := range events {
		next[ev] = true
		if !s.warned[ev] {
			controllers.LogEvent(s.Log, ev)
		}
	}
	s.warned = next
}

// fingerprint hashes the names and contents of the manifest files.
func (s *Source) fingerprint() ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	files, err := manifestFiles(s.Dir)
	if err != nil {
		return sum, fmt.Errorf("--manifests %s: %w", s.Dir, err)
	}
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00", f)
		fh, err := os.Open(f)
		if err != nil {
			return sum, err
		}
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return sum, err
		}
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}
