// Package translate turns cluster objects into the proxy's route table: Build takes
// Ingresses, IngressClasses, Services, EndpointSlices, Secrets and StickyPolicies and
// returns a routetable.Snapshot plus the StickyPolicy conditions, Events and served
// Ingresses the leader writes back. It is pure (no clients, no clock, no randomness)
// and deterministic: the same objects in any order give the same Result.
//
// Invalid input never breaks the snapshot. What cannot be served is left out and an
// Event says why; what can be served keeps serving:
//
//   - a route to a missing Service or port points at a backend without endpoints
//     (503s, visible) rather than disappearing (404s, or another rule's backend);
//   - an Ingress whose affinity annotations are invalid keeps its routes, with its
//     last valid annotation affinity (Inputs.LastGood) or else none;
//   - a missing or malformed TLS Secret leaves its hosts on the default certificate;
//   - of two Ingresses routing the same host, path and path type, the older serves.
//
// Decisions where DESIGN.md is silent are documented where they are made: class.go
// (which Ingresses are ours), routes.go (path validation and order), backends.go
// (backend names), endpoints.go (merging and dual-stack), policy.go (conflicts,
// conditions), tls.go (certificate ownership).
package translate
