package controllers

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Desired is what the latest build says the cluster should show: StickyPolicy
// conditions, which Ingresses we serve (their status.loadBalancer), and Events. Only
// the leader writes it; every replica computes it.
type Desired struct {
	Policies  []PolicyStatus
	Ingresses []types.NamespacedName
	Events    []Event
}

// PolicyStatus is the conditions one StickyPolicy should carry.
type PolicyStatus struct {
	types.NamespacedName
	Generation int64
	Conditions []metav1.Condition
}

// Kind names of the objects Events are about.
const (
	KindIngress      = "Ingress"
	KindStickyPolicy = "StickyPolicy"
	KindService      = "Service"
)

// Event is a Kubernetes Event to emit once about an object.
type Event struct {
	Kind    string // KindIngress, KindStickyPolicy, KindService
	types.NamespacedName
	Warning bool
	Reason  string
	Message string
}
