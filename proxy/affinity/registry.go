package affinity

// EndpointState is per-endpoint state that survives snapshot swaps: in-flight requests
// (for least-request and bounded-load hashing) and passive health.
// (Implementation: atomics only; no locks on the request path.)
type EndpointState struct{}

// Registry hands out the EndpointState for an endpoint identity, the same one across
// snapshots, and forgets states no snapshot has used for a while.
type Registry struct{}
