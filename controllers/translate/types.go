package translate

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	stickyv1 "github.com/sticky-ingress/sticky-ingress/api/v1alpha1"
	"github.com/sticky-ingress/sticky-ingress/controllers/annotations"
	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// Defaults of Inputs' configuration (DESIGN.md, "Names").
const (
	DefaultIngressClassName = "sticky"
	DefaultControllerName   = "sticky-ingress.io/ingress-controller"
)

// Inputs is everything Build reads: the objects as listed (any order; Build neither
// modifies nor keeps them) and the controller's configuration.
type Inputs struct {
	Ingresses      []networkingv1.Ingress
	IngressClasses []networkingv1.IngressClass
	Services       []corev1.Service
	EndpointSlices []discoveryv1.EndpointSlice
	Secrets        []corev1.Secret
	StickyPolicies []stickyv1.StickyPolicy

	// IngressClassName this controller serves; "" = DefaultIngressClassName.
	IngressClassName string
	// ControllerName that IngressClasses of ours carry; "" = DefaultControllerName.
	ControllerName string
	// LastGood is the previous Result.LastGood, so that an Ingress whose affinity
	// annotations just became invalid keeps the affinity it had. nil is fine.
	LastGood map[types.NamespacedName]LastGood
	// CertCache, when set, saves re-checking unchanged TLS Secrets on every build.
	// Pass the same one each time; nil checks every Secret every time.
	CertCache *CertCache
	// Cache, when set, remembers endpoint lists and parsed annotations of unchanged
	// objects from one build to the next. Pass the same one each time; nil redoes all
	// the work every time. Results are the same either way.
	Cache *Cache
}

// LastGood is an Ingress's last valid annotation-derived affinity.
type LastGood struct {
	// UID of the Ingress it belongs to: a recreated Ingress does not inherit it.
	UID      types.UID
	Affinity annotations.Affinity
}

// Result is what Build returns.
type Result struct {
	// Snapshot is sorted and consistent (see routetable's doc comments); never nil.
	Snapshot *routetable.Snapshot
	// PolicyStatuses hold the conditions of every StickyPolicy, sorted by namespace/name.
	PolicyStatuses []PolicyStatus
	// Events to emit, sorted and without duplicates. Messages are stable across builds
	// of the same input, so a writer can emit each once while it stays true.
	Events []Event
	// IngressesServed are the Ingresses of our class, sorted: their status.loadBalancer
	// is ours to write.
	IngressesServed []types.NamespacedName
	// LastGood is to be passed to the next Build as Inputs.LastGood.
	LastGood map[types.NamespacedName]LastGood
}

// PolicyStatus is the desired status of one StickyPolicy. Conditions carry
// ObservedGeneration = Generation and no LastTransitionTime (the writer sets it when a
// condition changes).
type PolicyStatus struct {
	Namespace  string             `json:"namespace"`
	Name       string             `json:"name"`
	Generation int64              `json:"generation"`
	Conditions []metav1.Condition `json:"conditions"`
}

// NamespacedName of the policy.
func (p PolicyStatus) NamespacedName() types.NamespacedName {
	return types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
}
