package translate

import (
	"cmp"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Kinds of the objects Events are about.
const (
	KindIngress      = "Ingress"
	KindStickyPolicy = "StickyPolicy"
	KindService      = "Service"
)

// Event reasons.
const (
	// Ingress annotations.
	ReasonInvalidAnnotation    = "InvalidAnnotation"    // Warning: affinity annotations rejected
	ReasonAnnotationIgnored    = "AnnotationIgnored"    // Warning: one annotation ignored or without effect
	ReasonAnnotationNote       = "AnnotationNote"       // Normal: accepted, worth knowing
	ReasonAnnotationOverridden = "AnnotationOverridden" // Normal: a StickyPolicy is authoritative

	// Ingress rules and backends.
	ReasonInvalidRule            = "InvalidRule"            // Warning: a host or path that cannot be served
	ReasonRouteConflict          = "RouteConflict"          // Warning: an older Ingress routes the same host+path
	ReasonDefaultBackendConflict = "DefaultBackendConflict" // Warning: an older Ingress sets the default backend
	ReasonServiceNotFound        = "ServiceNotFound"        // Warning: the route answers 503
	ReasonServicePortNotFound    = "ServicePortNotFound"    // Warning: the route answers 503
	ReasonExternalNameService    = "ExternalNameService"    // Warning: route skipped
	ReasonUnsupportedBackend     = "UnsupportedBackend"     // Warning: resource backend, route skipped

	// TLS.
	ReasonTLSSecretNotFound = "TLSSecretNotFound" // Warning: hosts get the default certificate
	ReasonInvalidTLSSecret  = "InvalidTLSSecret"  // Warning: hosts get the default certificate
	ReasonTLSConflict       = "TLSConflict"       // Warning: an older Ingress's Secret serves the host

	// StickyPolicy.
	ReasonPolicyConflict = "PolicyConflict" // Warning: an older policy targets the same Service (port)
	ReasonPolicyInvalid  = "PolicyInvalid"  // Warning: the policy is not applied
)

// ObjectRef names the object an Event is about.
type ObjectRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// NamespacedName of the object.
func (o ObjectRef) NamespacedName() types.NamespacedName {
	return types.NamespacedName{Namespace: o.Namespace, Name: o.Name}
}

// Event is a Kubernetes Event to emit about an object. It is comparable.
type Event struct {
	Regarding ObjectRef `json:"regarding"`
	// Type is corev1.EventTypeNormal or corev1.EventTypeWarning.
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Warning reports whether the event is of type Warning.
func (e Event) Warning() bool { return e.Type == corev1.EventTypeWarning }

// String names the object, for logs: `ingress shop/cart: annotation …`.
func (e Event) String() string {
	return fmt.Sprintf("%s %s/%s: %s", lowerKind(e.Regarding.Kind), e.Regarding.Namespace, e.Regarding.Name, e.Message)
}

func lowerKind(k string) string {
	switch k {
	case KindIngress:
		return "ingress"
	case KindStickyPolicy:
		return "stickypolicy"
	case KindService:
		return "service"
	}
	return k
}

// events collects Events during a build.
type events []Event

func (es *events) add(kind string, nn types.NamespacedName, typ, reason, format string, args ...any) {
	*es = append(*es, Event{
		Regarding: ObjectRef{Kind: kind, Namespace: nn.Namespace, Name: nn.Name},
		Type:      typ, Reason: reason, Message: fmt.Sprintf(format, args...),
	})
}

func (es *events) warn(kind string, nn types.NamespacedName, reason, format string, args ...any) {
	es.add(kind, nn, corev1.EventTypeWarning, reason, format, args...)
}

func (es *events) normal(kind string, nn types.NamespacedName, reason, format string, args ...any) {
	es.add(kind, nn, corev1.EventTypeNormal, reason, format, args...)
}

// sorted returns the events ordered by object, then reason and message, without
// duplicates (many paths to one missing Service say so once).
func (es events) sorted() []Event {
	out := slices.Clone([]Event(es))
	slices.SortFunc(out, func(a, b Event) int {
		return cmp.Or(
			cmp.Compare(a.Regarding.Kind, b.Regarding.Kind),
			cmp.Compare(a.Regarding.Namespace, b.Regarding.Namespace),
			cmp.Compare(a.Regarding.Name, b.Regarding.Name),
			cmp.Compare(a.Reason, b.Reason),
			cmp.Compare(a.Message, b.Message),
			cmp.Compare(a.Type, b.Type),
		)
	})
	return slices.Compact(out)
}
