package translate

import (
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/sticky-ingress/sticky-ingress/controllers/annotations"
)

// ingress is one Ingress of our class, with its annotations parsed.
type ingress struct {
	obj  *networkingv1.Ingress
	key  nsName
	src  string // "namespace/name", the Source of its routes
	rank int    // position oldest-first: route and conflict order
	ann  annotations.Result
	// affinity its backends get when no StickyPolicy targets them.
	affinity annotations.Affinity
}

func (ing *ingress) source() string { return ing.src }

// selectIngresses keeps the Ingresses of our class, oldest first, and decides the
// affinity their annotations give.
func (b *builder) selectIngresses() {
	all := make([]ingress, 0, len(b.in.Ingresses)) // one allocation, not one per Ingress
	for i := range b.in.Ingresses {
		obj := &b.in.Ingresses[i]
		if b.isOurs(obj) {
			key := nsName{Namespace: obj.Namespace, Name: obj.Name}
			all = append(all, ingress{obj: obj, key: key, src: key.String()})
		}
	}
	b.served = make([]*ingress, len(all))
	for i := range all {
		b.served[i] = &all[i]
	}
	slices.SortFunc(b.served, func(x, y *ingress) int { return olderFirst(&x.obj.ObjectMeta, &y.obj.ObjectMeta) })
	for i, ing := range b.served {
		ing.rank = i
		b.annotate(ing)
	}
}

// annotate parses the affinity annotations of ing. Invalid ones reject its
// annotation-derived affinity as a whole; the routes keep serving with the last valid
// affinity when the caller kept one for this very Ingress (same UID), else with none.
func (b *builder) annotate(ing *ingress) {
	ing.ann = b.in.Cache.annotations(ing.key, ing.obj.Annotations)
	ing.affinity = ing.ann.Affinity
	if !ing.ann.Rejected() {
		if len(ing.ann.Keys) > 0 {
			b.lastGood[ing.key] = LastGood{UID: ing.obj.UID, Affinity: ing.affinity}
		}
	}
	outcome := "its routes get no affinity from annotations"
	if ing.ann.Rejected() {
		prev, ok := b.in.LastGood[ing.key]
		if b.lastGoodReads == nil {
			b.lastGoodReads = map[nsName]lastGoodRead{}
		}
		b.lastGoodReads[ing.key] = lastGoodRead{value: prev, ok: ok}
		if ok && prev.UID == ing.obj.UID {
			ing.affinity = prev.Affinity
			b.lastGood[ing.key] = prev
			outcome = "its routes keep the last valid annotation affinity (" + describeAffinity(prev.Affinity) + ")"
		}
	}
	for _, p := range ing.ann.Problems {
		switch p.Severity {
		case annotations.Error:
			b.ev.warn(KindIngress, ing.key, ReasonInvalidAnnotation,
				"%s; the affinity annotations of this Ingress are rejected until fixed and %s", p.Error(), outcome)
		case annotations.Warning:
			b.ev.warn(KindIngress, ing.key, ReasonAnnotationIgnored, "%s", p.Error())
		default:
			b.ev.normal(KindIngress, ing.key, ReasonAnnotationNote, "%s", p.Error())
		}
	}
}

// describeAffinity is a short human description, for Event messages.
func describeAffinity(a annotations.Affinity) string {
	p := a.Policy
	switch {
	case p.Cookie != nil:
		return "cookie " + p.Cookie.Name
	case p.SourceIP != nil:
		return "source-ip"
	case p.Header != nil:
		src := strings.ToLower(string(p.Header.Source))
		if src == "" {
			src = "header"
		}
		return src + " " + p.Header.Name
	}
	return "none"
}
