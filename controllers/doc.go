// Package controllers watches the cluster (Ingress, IngressClass, Service,
// EndpointSlice, Secret, StickyPolicy), rebuilds the route table through the pure
// translate.Build on every change, hands it to the proxy, and — on the leader only —
// writes Ingress and StickyPolicy status.
package controllers
