package controllers

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"github.com/sticky-ingress/sticky-ingress/controllers/translate"
)

// Translator is the Builder in use: translate.Build with this controller's class, and
// the memory of each Ingress's last good affinity carried from one build to the next
// (so an Ingress whose annotations turn invalid keeps the affinity it had).
type Translator struct {
	IngressClassName string

	mu       sync.Mutex
	lastGood map[types.NamespacedName]translate.LastGood
	// certs remembers parsed TLS key pairs by Secret content, so a build does not
	// re-verify every certificate (about 0.1 ms each) when one EndpointSlice changes.
	certs *translate.CertCache
	// cache remembers endpoint lists and parsed annotations of unchanged objects, so
	// that one EndpointSlice change re-merges one Service's slices, not all of them,
	// and the proxy can reuse the pickers of every backend whose endpoints are the
	// same slice as before.
	cache *translate.Cache
}

// NewTranslator serves IngressClass name class.
func NewTranslator(class string) *Translator {
	return &Translator{IngressClassName: class, certs: translate.NewCertCache(), cache: translate.NewCache()}
}

// Build implements Builder.
func (t *Translator) Build(in translate.Inputs) translate.Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	in.IngressClassName = t.IngressClassName
	in.LastGood = t.lastGood
	in.CertCache = t.certs
	in.Cache = t.cache
	res := translate.Build(in)
	t.lastGood = res.LastGood
	return res
}
