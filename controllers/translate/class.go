package translate

import (
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
)

// Annotations that select an IngressClass.
const (
	// LegacyClassAnnotation predates spec.ingressClassName; Ingresses still carry it.
	LegacyClassAnnotation = "kubernetes.io/ingress.class"
	// DefaultClassAnnotation marks the IngressClass for Ingresses that name none.
	DefaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class"
)

// isOurs decides whether an Ingress is served by this controller:
//
//   - spec.ingressClassName, else the legacy kubernetes.io/ingress.class annotation,
//     must name our class. If an IngressClass of that name exists, its
//     spec.controller must be ours too (another controller owns it otherwise); if none
//     exists the name alone decides, as it always has for the legacy annotation, so
//     that --manifests directories need not carry an IngressClass.
//   - An Ingress naming no class is ours when the default IngressClass is ours (our
//     name and controller). With several classes marked default, the newest is the
//     default, as the DefaultIngressClass admission plugin picks it.
func (b *builder) isOurs(ing *networkingv1.Ingress) bool {
	if ing.Spec.IngressClassName != nil && *ing.Spec.IngressClassName != "" {
		return b.classIsOurs(*ing.Spec.IngressClassName)
	}
	if name := ing.Annotations[LegacyClassAnnotation]; name != "" {
		return b.classIsOurs(name)
	}
	return b.defaultClassIsOurs()
}

func (b *builder) classIsOurs(name string) bool {
	if name != b.className {
		return false
	}
	c, ok := b.classes[name]
	return !ok || c.Spec.Controller == b.controllerName
}

func (b *builder) defaultClassIsOurs() bool {
	var defaults []*networkingv1.IngressClass
	for _, c := range b.classes {
		if c.Annotations[DefaultClassAnnotation] == "true" {
			defaults = append(defaults, c)
		}
	}
	if len(defaults) == 0 {
		return false
	}
	// Newest first; the name breaks ties so that map order never decides.
	newest := slices.MinFunc(defaults, func(x, y *networkingv1.IngressClass) int {
		return -olderFirst(&x.ObjectMeta, &y.ObjectMeta)
	})
	return newest.Name == b.className && newest.Spec.Controller == b.controllerName
}
