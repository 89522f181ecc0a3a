// Package affinity turns a routetable.Backend into a Picker: an immutable, lock-free
// object that chooses an endpoint for each request and says whether a session was
// honoured, created, rebalanced, drained or refused. Pickers are built once per
// snapshot; per-endpoint state that must outlive snapshots (in-flight counts, passive
// health) lives in a Registry.
//
// Use: one KeyRing (NewKeyRing) and one Registry (NewRegistry) per process; per
// snapshot, CompileAll gives the pickers index-aligned with Snapshot.Backends; per
// request, Pick, then State.Begin/End(success) around the upstream call, and Retry
// when the connection could not be made.
//
// Decisions, in short:
//   - Cookie: the first cookie of the policy's name whose value maps to an endpoint
//     of this backend is the session. Garbage, truncated, oversized values and tokens
//     of other backends are no session (OutcomeNew); a well-formed token that maps
//     to no endpoint of the snapshot is a session whose endpoint is gone. A hit sends
//     no Set-Cookie unless the cookie was signed by an older key (it is re-signed) or
//     Options.SlidingCookies is on.
//   - Source IP and header: the key's endpoint in a Maglev table; no key (no client
//     address, header, cookie or parameter) means a load-balanced OutcomeNew.
//   - New sessions go to Ready endpoints that passive health has not ejected, by
//     round-robin or least-request (power of two choices), honouring weights.
//   - A session whose endpoint is Serving and Terminating stays (OutcomeDrained).
//     One whose endpoint is gone, not serving or ejected is re-picked with a new
//     cookie (OutcomeRebalanced) or, under Strict, refused (OutcomeStrictMiss) with
//     its cookie left alone, so it resumes if the endpoint comes back.
//   - Nothing eligible: OutcomeNoEndpoint. If every Ready endpoint is ejected, new
//     sessions still go to one of them (passive health can be wrong; trying beats a
//     certain 503).
package affinity

import (
	"net/http"
	"net/netip"
)

// Outcome classifies one affinity decision (a metrics label and an access-log field).
type Outcome uint8

// Outcomes.
const (
	OutcomeNone       Outcome = iota // the backend has no affinity: plain load balancing
	OutcomeHit                       // an existing session was honoured
	OutcomeNew                       // no (valid) session key: a new pick
	OutcomeRebalanced                // the session's endpoint cannot serve: re-picked (and re-pinned)
	OutcomeStrictMiss                // the session's endpoint cannot serve and fallback is Strict: 503
	OutcomeDrained                   // the session's endpoint is terminating but serving: kept there
	OutcomeNoEndpoint                // nothing can serve: 503
)

var outcomeNames = [...]string{
	OutcomeNone:       "none",
	OutcomeHit:        "hit",
	OutcomeNew:        "new",
	OutcomeRebalanced: "rebalanced",
	OutcomeStrictMiss: "strict_miss",
	OutcomeDrained:    "drained",
	OutcomeNoEndpoint: "no_endpoint",
}

// String is the outcome's metrics label and access-log value ("hit", "strict_miss", ...).
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// Request is what a picker may look at.
type Request struct {
	HTTP *http.Request
	// ClientIP is the client's address after trusted-proxy / PROXY-protocol resolution.
	ClientIP netip.Addr
	// TLS reports whether the client connection was TLS (for Secure=Auto cookies).
	TLS bool
	// RoutePath is the matched route's path (the default cookie Path).
	RoutePath string
}

// Decision is a picker's answer.
type Decision struct {
	// Endpoint is nil when Outcome is OutcomeStrictMiss or OutcomeNoEndpoint.
	Endpoint *Endpoint
	Outcome  Outcome
	// Cookie, when non-nil, is to be sent to the client as Set-Cookie. It may be
	// shared with other decisions: read it, never change it.
	Cookie *http.Cookie
	// setCookie is Cookie serialised as a header's values, [value], when the
	// picker has it already.
	setCookie []string
}

// SetCookie is Cookie as a Set-Cookie header value.
func (d *Decision) SetCookie() string {
	if d.setCookie != nil {
		return d.setCookie[0]
	}
	return d.Cookie.String()
}

// SetCookieValues is [SetCookie()], a header's values for a response that sets no
// other cookie. It may be shared with other decisions: its capacity is 1, so that
// appending copies it; never change its element.
func (d *Decision) SetCookieValues() []string {
	if d.setCookie != nil {
		return d.setCookie
	}
	return []string{d.Cookie.String()}
}

// Picker chooses endpoints for one backend. Safe for concurrent use.
type Picker interface {
	// Pick chooses an endpoint for a request.
	Pick(r *Request) Decision
	// Retry chooses again after the upstream connection to failed could not be made;
	// failed is excluded. Under Strict fallback a pinned request gets OutcomeStrictMiss;
	// otherwise a request that had a session is OutcomeRebalanced (new cookie), one
	// without is OutcomeNew. Retry does not report the failure to passive health: the
	// caller does, with failed.State.End(false).
	Retry(r *Request, failed *Endpoint) Decision
	// Endpoints lists the compiled endpoints (for metrics and tests).
	Endpoints() []*Endpoint
}

// Endpoint is a compiled routetable.Endpoint: immutable per snapshot, with a pointer to
// the state that outlives snapshots.
type Endpoint struct {
	ID      string
	Address string
	// Token is this endpoint's cookie value under the current signing key.
	Token string
	// State is shared by every snapshot that contains this endpoint (same ID and address).
	State *EndpointState

	// Weight is the relative weight (at least 1).
	Weight int32
	// Conditions as in the snapshot: Ready endpoints take new sessions; Serving and
	// Terminating ones keep the sessions they have (drain).
	Ready, Serving, Terminating bool
}
