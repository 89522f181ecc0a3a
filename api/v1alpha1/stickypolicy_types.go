package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AffinityType names how a StickyPolicy keeps a client on one endpoint.
// +kubebuilder:validation:Enum=Cookie;SourceIP;Header
type AffinityType string

// Affinity types.
const (
	AffinityCookie   AffinityType = "Cookie"
	AffinitySourceIP AffinityType = "SourceIP"
	AffinityHeader   AffinityType = "Header"
)

// Fallback is what a pinned request does when its endpoint is gone or unhealthy.
// +kubebuilder:validation:Enum=Rebalance;Strict
type Fallback string

// Fallbacks.
const (
	FallbackRebalance Fallback = "Rebalance"
	FallbackStrict    Fallback = "Strict"
)

// LoadBalance is how a new session picks its first endpoint.
// +kubebuilder:validation:Enum=RoundRobin;LeastRequest
type LoadBalance string

// Load-balance methods.
const (
	LoadBalanceRoundRobin   LoadBalance = "RoundRobin"
	LoadBalanceLeastRequest LoadBalance = "LeastRequest"
)

// CookieSecure says when the affinity cookie carries the Secure attribute.
// +kubebuilder:validation:Enum=Auto;Always;Never
type CookieSecure string

// Secure modes.
const (
	CookieSecureAuto   CookieSecure = "Auto"
	CookieSecureAlways CookieSecure = "Always"
	CookieSecureNever  CookieSecure = "Never"
)

// SameSite is the cookie's SameSite attribute.
// +kubebuilder:validation:Enum=Strict;Lax;None
type SameSite string

// SameSite values.
const (
	SameSiteStrict SameSite = "Strict"
	SameSiteLax    SameSite = "Lax"
	SameSiteNone   SameSite = "None"
)

// HeaderSource says where a header-affinity key is read from.
// +kubebuilder:validation:Enum=Header;Cookie;Query
type HeaderSource string

// Header sources.
const (
	HeaderSourceHeader HeaderSource = "Header"
	HeaderSourceCookie HeaderSource = "Cookie"
	HeaderSourceQuery  HeaderSource = "Query"
)

// TargetRef names a Service in the policy's namespace, optionally one of its ports.
type TargetRef struct {
	// Name of the Service.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Port of the Service (its port number, not the target port). Unset: every port.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port *int32 `json:"port,omitempty"`
}

// CookiePolicy configures the affinity cookie the proxy issues.
// +kubebuilder:validation:XValidation:rule="!(has(self.sameSite) && self.sameSite == 'None' && has(self.secure) && self.secure == 'Never')",message="sameSite None requires a Secure cookie, so secure must not be Never",fieldPath=".secure"
// +kubebuilder:validation:XValidation:rule="!has(self.maxAge) || duration(self.maxAge) >= duration('0s')",message="maxAge must not be negative",fieldPath=".maxAge"
type CookiePolicy struct {
	// Name of the cookie.
	// +kubebuilder:validation:Pattern=`^[!#$%&'*+\-.^_|~0-9A-Za-z]+$`
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:default=STICKY
	// +optional
	Name string `json:"name,omitempty"`
	// Path attribute. Unset: the path of the Ingress rule that matched.
	// +kubebuilder:validation:Pattern=`^/[^;\s]*$`
	// +optional
	Path string `json:"path,omitempty"`
	// Domain attribute. Unset: the cookie belongs to the request's host.
	// +kubebuilder:validation:Pattern=`^\.?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	Domain string `json:"domain,omitempty"`
	// MaxAge of the cookie, as a duration ("2h"). Unset or 0: a session cookie.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^-?([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +optional
	MaxAge *metav1.Duration `json:"maxAge,omitempty"`
	// Secure attribute: Auto sets it when the request came over TLS.
	// +kubebuilder:default=Auto
	// +optional
	Secure CookieSecure `json:"secure,omitempty"`
	// HTTPOnly attribute.
	// +kubebuilder:default=true
	// +optional
	HTTPOnly *bool `json:"httpOnly,omitempty"`
	// SameSite attribute. None forces Secure.
	// +kubebuilder:default=Lax
	// +optional
	SameSite SameSite `json:"sameSite,omitempty"`
}

// SourceIPPolicy configures client-address hashing.
type SourceIPPolicy struct {
	// IPv4PrefixLength masks IPv4 clients before hashing (24 behaves like nginx ip_hash).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=32
	// +kubebuilder:default=32
	// +optional
	IPv4PrefixLength int32 `json:"ipv4PrefixLength,omitempty"`
	// IPv6PrefixLength masks IPv6 clients before hashing.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=128
	// +kubebuilder:default=128
	// +optional
	IPv6PrefixLength int32 `json:"ipv6PrefixLength,omitempty"`
}

// HeaderPolicy configures hashing on a request attribute.
type HeaderPolicy struct {
	// Name of the header (or cookie, or query parameter) whose value is the key.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[!#$%&'*+\-.^_|~0-9A-Za-z]+$`
	Name string `json:"name"`
	// Source of the key.
	// +kubebuilder:default=Header
	// +optional
	Source HeaderSource `json:"source,omitempty"`
}

// StickyPolicySpec says how requests to the targeted Services keep their endpoint.
// +kubebuilder:validation:XValidation:rule="self.type != 'Header' || (has(self.header) && size(self.header.name) > 0)",message="header.name is required when type is Header",fieldPath=".header"
// +kubebuilder:validation:XValidation:rule="!has(self.cookie) || self.type == 'Cookie'",message="cookie may only be set when type is Cookie",fieldPath=".cookie"
// +kubebuilder:validation:XValidation:rule="!has(self.sourceIP) || self.type == 'SourceIP'",message="sourceIP may only be set when type is SourceIP",fieldPath=".sourceIP"
// +kubebuilder:validation:XValidation:rule="!has(self.header) || self.type == 'Header'",message="header may only be set when type is Header",fieldPath=".header"
type StickyPolicySpec struct {
	// TargetRefs are the Services (in this namespace) the policy applies to.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(a, self.filter(b, b.name == a.name && (has(b.port) ? b.port : 0) == (has(a.port) ? a.port : 0)).size() == 1)",message="targetRefs must not contain duplicates"
	// +listType=atomic
	TargetRefs []TargetRef `json:"targetRefs"`
	// Type of affinity.
	Type AffinityType `json:"type"`
	// Cookie settings, for type Cookie.
	// +optional
	Cookie *CookiePolicy `json:"cookie,omitempty"`
	// SourceIP settings, for type SourceIP.
	// +optional
	SourceIP *SourceIPPolicy `json:"sourceIP,omitempty"`
	// Header settings, required for type Header.
	// +optional
	Header *HeaderPolicy `json:"header,omitempty"`
	// Fallback when the pinned endpoint is gone or unhealthy: Rebalance picks a new one
	// and re-pins; Strict answers 503 and keeps the session.
	// +kubebuilder:default=Rebalance
	// +optional
	Fallback Fallback `json:"fallback,omitempty"`
	// LoadBalance picks the first endpoint of a new cookie session.
	// +kubebuilder:default=RoundRobin
	// +optional
	LoadBalance LoadBalance `json:"loadBalance,omitempty"`
	// HashBalanceFactor bounds consistent-hash load (e.g. "1.25": no endpoint takes more
	// than 1.25 × the mean in-flight requests). Unset: unbounded.
	// +kubebuilder:validation:Pattern=`^[0-9]+(\.[0-9]+)?$`
	// +kubebuilder:validation:XValidation:rule="double(self) > 1.0",message="hashBalanceFactor must be greater than 1"
	// +optional
	HashBalanceFactor string `json:"hashBalanceFactor,omitempty"`
}

// Condition types and reasons of a StickyPolicy.
const (
	// ConditionAccepted: the policy is in force for its targets.
	ConditionAccepted = "Accepted"
	// ConditionResolvedRefs: every target exists.
	ConditionResolvedRefs = "ResolvedRefs"

	ReasonAccepted       = "Accepted"
	ReasonConflicted     = "Conflicted"
	ReasonInvalid        = "Invalid"
	ReasonResolvedRefs   = "ResolvedRefs"
	ReasonTargetNotFound = "TargetNotFound"
)

// StickyPolicyStatus is written by the leading controller.
type StickyPolicyStatus struct {
	// Conditions: Accepted and ResolvedRefs.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// StickyPolicy sets session affinity for Services routed by sticky-ingress. It is
// authoritative over affinity annotations on the Ingresses that route to those Services.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=stp,categories=sticky-ingress
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Targets",type=string,JSONPath=`.spec.targetRefs[*].name`
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type StickyPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   StickyPolicySpec   `json:"spec"`
	Status StickyPolicyStatus `json:"status,omitempty"`
}

// StickyPolicyList is a list of StickyPolicies.
// +kubebuilder:object:root=true
type StickyPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []StickyPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&StickyPolicy{}, &StickyPolicyList{})
}
