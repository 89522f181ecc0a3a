package translate

import (
	"strings"
	"sync"

	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/sticky-ingress/sticky-ingress/controllers/annotations"
	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// Cache remembers per-object work from one Build to the next: the endpoint list of
// each Service port and the parsed affinity annotations of each Ingress. A build after
// one EndpointSlice changed then merges the slices of that one Service instead of all
// of them, and hands every other backend the very same Endpoints slice as before,
// which lets the proxy see at a glance that the backend is unchanged.
//
// It changes no result, only how fast one comes: an entry is used only when what the
// work read is provably the same.
//   - Endpoints: the same Service port name and IP family, and the same set of
//     EndpointSlices by name and resourceVersion. The API server gives every write a
//     new resourceVersion, so equal versions mean equal content. Slices without a
//     resourceVersion (--manifests input, hand-made tests) are never cached.
//   - Annotations: the same sticky-ingress.io/ and nginx.ingress.kubernetes.io/
//     annotations, compared by value (Parse reads no others).
//
// Entries a build did not use are dropped at its end, so the cache holds only live
// objects. The caller owns it and passes the same one to every Build; builds that
// share one take turns.
type Cache struct {
	mu   sync.Mutex
	gen  uint64 // the current build's number: entries it used carry it
	eps  map[endpointKey]*endpointsEntry
	ann  map[nsName]*annotationsEntry
	last *lastBuild // the previous full build (incremental.go)
	// incrementalBuilds counts the builds answered by the fast path (tests).
	incrementalBuilds int
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{eps: map[endpointKey]*endpointsEntry{}, ann: map[nsName]*annotationsEntry{}}
}

type sliceVersion struct{ name, resourceVersion string }

type endpointsEntry struct {
	gen       uint64
	primaryV6 bool
	// volatile: collected from a slice without a resourceVersion, good for this
	// build only (its backends share it) and dropped at its end.
	volatile bool
	slices   []sliceVersion
	eps      []routetable.Endpoint
}

type annotationsEntry struct {
	gen      uint64
	relevant map[string]string
	res      annotations.Result
}

// beginBuild takes the cache for one build; endBuild releases it.
func (c *Cache) beginBuild() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.gen++
}

// endBuild forgets what this full build did not use: objects that are gone or changed.
func (c *Cache) endBuild() {
	if c == nil {
		return
	}
	for k, e := range c.eps {
		if e.gen != c.gen || e.volatile {
			delete(c.eps, k)
		}
	}
	for k, e := range c.ann {
		if e.gen != c.gen {
			delete(c.ann, k)
		}
	}
	c.mu.Unlock()
}

// endIncremental ends a build answered by incremental: the entries it did not look at
// belong to objects that are all still there, so only this build's volatile ones go.
func (c *Cache) endIncremental() {
	c.incrementalBuilds++
	for k, e := range c.eps {
		if e.volatile && e.gen == c.gen {
			delete(c.eps, k)
		}
	}
	c.mu.Unlock()
}

// endpoints returns the cached endpoint list of k when the slices are the ones it was
// collected from, else collect's result, remembered for later builds when every slice
// has a resourceVersion and for this one only otherwise.
func (c *Cache) endpoints(k endpointKey, primaryV6 bool, all []*discoveryv1.EndpointSlice,
	collect func() []routetable.Endpoint) []routetable.Endpoint {
	e := c.eps[k]
	switch {
	case e == nil:
	case e.gen == c.gen:
		return e.eps // another backend of this build asked already
	case !e.volatile && e.primaryV6 == primaryV6 && sameSlices(e.slices, all):
		e.gen = c.gen
		return e.eps
	}
	e = &endpointsEntry{gen: c.gen, primaryV6: primaryV6, eps: collect(), slices: make([]sliceVersion, len(all))}
	for i, s := range all {
		if s.ResourceVersion == "" {
			e.volatile, e.slices = true, nil
			break
		}
		e.slices[i] = sliceVersion{name: s.Name, resourceVersion: s.ResourceVersion}
	}
	c.eps[k] = e
	return e.eps
}

// sameSlices reports whether all are the slices of versions, in any order. Services
// have few slices (one per 100 endpoints), so the quadratic search is cheap.
func sameSlices(versions []sliceVersion, all []*discoveryv1.EndpointSlice) bool {
	if len(versions) != len(all) {
		return false
	}
	for _, s := range all {
		v := sliceVersion{name: s.Name, resourceVersion: s.ResourceVersion}
		if v.resourceVersion == "" {
			return false
		}
		found := false
		for _, w := range versions {
			if w == v {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// annotations returns annotations.Parse(ann), from the cache when the Ingress's
// affinity-relevant annotations are those it was parsed from.
func (c *Cache) annotations(key nsName, ann map[string]string) annotations.Result {
	if c == nil {
		return annotations.Parse(ann)
	}
	if e := c.ann[key]; e != nil && sameRelevant(e.relevant, ann) {
		e.gen = c.gen
		return e.res
	}
	relevant := map[string]string{}
	for k, v := range ann {
		if isRelevant(k) {
			relevant[k] = v
		}
	}
	res := annotations.Parse(ann)
	c.ann[key] = &annotationsEntry{gen: c.gen, relevant: relevant, res: res}
	return res
}

// isRelevant: an annotation that annotations.Parse reads or warns about.
func isRelevant(k string) bool {
	return strings.HasPrefix(k, annotations.Prefix) || strings.HasPrefix(k, annotations.NginxPrefix)
}

func sameRelevant(relevant, ann map[string]string) bool {
	n := 0
	for k, v := range ann {
		if !isRelevant(k) {
			continue
		}
		if w, ok := relevant[k]; !ok || w != v {
			return false
		}
		n++
	}
	return n == len(relevant)
}
