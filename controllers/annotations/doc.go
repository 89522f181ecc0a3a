// Package annotations parses and validates the affinity annotations of an Ingress:
// the native sticky-ingress.io/* set and the nginx.ingress.kubernetes.io/* affinity set
// that Ingresses written for ingress-nginx bring with them. It is pure: a map of
// annotations in, a typed Affinity and a list of Problems out.
//
// # Precedence
//
// A native annotation wins over its nginx twin; the twin is then ignored (an Info
// problem says so) and not validated. The mode comes from sticky-ingress.io/affinity
// when present; otherwise from nginx.ingress.kubernetes.io/affinity (cookie), which, as
// in ingress-nginx, wins over nginx.ingress.kubernetes.io/upstream-hash-by; otherwise
// from upstream-hash-by; otherwise there is no affinity.
//
// # ingress-nginx mapping
//
//	affinity: cookie                        cookie affinity (the cookie is named INGRESSCOOKIE
//	                                        unless a name is given, as in ingress-nginx)
//	affinity-mode: balanced|persistent|persistent-drainable
//	                                        accepted, no effect: our sessions never move on
//	                                        scale-up (what persistent promises) and draining
//	                                        endpoints keep their sessions
//	session-cookie-name|path|domain         cookie-name|path|domain
//	session-cookie-max-age, -expires        cookie-max-age (max-age wins when both are set)
//	session-cookie-secure: true|false       cookie-secure: true|false (unset = auto, like nginx)
//	session-cookie-samesite                 cookie-samesite
//	session-cookie-conditional-samesite-none
//	                                        accepted and recorded; SameSite=None is always sent
//	session-cookie-change-on-failure        fallback: rebalance, for both true and false (see
//	                                        nginxFallback: false is not strict)
//	upstream-hash-by: $remote_addr, $binary_remote_addr
//	                                        source-ip
//	upstream-hash-by: $http_x_user_id       header X-User-Id
//	upstream-hash-by: $cookie_NAME, $arg_NAME
//	                                        header affinity keyed by that cookie / query parameter
//	load-balance: round_robin | least_conn, ewma
//	                                        round-robin | least-request (ewma approximated)
//
// # Invalid values
//
// A Problem of Severity Error rejects the Ingress's annotation-derived affinity as a
// whole (Result.Rejected): half of a configuration is not what the user asked for, and
// guessing could pin sessions in a way nobody intended. The caller keeps the routes
// serving — with the Ingress's last valid affinity when it has one, else with none —
// and reports the problems as Events. Warnings and Infos never reject.
package annotations
