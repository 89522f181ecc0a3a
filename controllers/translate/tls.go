package translate

import (
	"cmp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// certSecret is a TLS Secret checked once per build.
type certSecret struct {
	cert, key []byte
	reason    string // "" when usable, else an Event reason
	problem   string // why it is not usable
}

// certificates serves spec.tls of our Ingresses by SNI. A host belongs to the oldest
// Ingress that names it with a usable Secret: a missing or malformed Secret claims
// nothing, so its hosts fall back to a newer Ingress's certificate for them, or to the
// default certificate. spec.tls entries without hosts cover the Ingress's rule hosts
// (the API leaves their meaning to the controller); entries without a secretName ask
// for the default certificate and add nothing.
func (b *builder) certificates() []routetable.Certificate {
	type claim struct {
		ing    *ingress
		secret nsName
	}
	owner := map[string]claim{}
	checked := map[nsName]*certSecret{}
	for _, ing := range b.served {
		for _, t := range ing.obj.Spec.TLS {
			if t.SecretName == "" {
				continue
			}
			hosts := t.Hosts
			if len(hosts) == 0 {
				hosts = ruleHosts(ing)
			}
			key := nsName{Namespace: ing.key.Namespace, Name: t.SecretName}
			cs := checked[key]
			if cs == nil {
				cs = b.checkSecret(key)
				checked[key] = cs
			}
			if cs.reason != "" {
				b.ev.warn(KindIngress, ing.key, cs.reason,
					"TLS secret %s %s; %s: the default certificate (or a newer Ingress's) is served instead",
					t.SecretName, cs.problem, hostList(hosts))
				continue
			}
			for _, h := range hosts {
				h = strings.ToLower(h)
				if h == "" || checkHost(h) != "" {
					b.ev.warn(KindIngress, ing.key, ReasonInvalidRule, "TLS host %q is not a valid host name; it is ignored", h)
					continue
				}
				prev, taken := owner[h]
				switch {
				case !taken:
					owner[h] = claim{ing: ing, secret: key}
				case prev.secret != key && prev.ing != ing:
					b.ev.warn(KindIngress, ing.key, ReasonTLSConflict,
						"host %s is already served with TLS secret %s of ingress %s, which %s; secret %s is not used for it",
						h, prev.secret, prev.ing.key, olderThan(prev.ing, ing), t.SecretName)
				case prev.secret != key:
					b.ev.warn(KindIngress, ing.key, ReasonTLSConflict,
						"host %s is named by two TLS entries of this Ingress; secret %s is used, %s is not",
						h, prev.secret.Name, t.SecretName)
				}
			}
		}
	}
	bySecret := map[nsName][]string{}
	for h, c := range owner {
		bySecret[c.secret] = append(bySecret[c.secret], h)
	}
	certs := make([]routetable.Certificate, 0, len(bySecret))
	for key, hosts := range bySecret {
		slices.Sort(hosts)
		cs := checked[key]
		certs = append(certs, routetable.Certificate{Hosts: hosts, Source: key.String(), CertPEM: cs.cert, KeyPEM: cs.key})
	}
	slices.SortFunc(certs, func(x, y routetable.Certificate) int { return cmp.Compare(x.Source, y.Source) })
	if len(certs) == 0 {
		return nil
	}
	return certs
}

// checkSecret loads a kubernetes.io/tls Secret and checks that its certificate and
// key parse and belong together.
func (b *builder) checkSecret(key nsName) *certSecret {
	s := b.secrets[key]
	if s == nil {
		return &certSecret{reason: ReasonTLSSecretNotFound, problem: "not found"}
	}
	if s.Type != corev1.SecretTypeTLS {
		return &certSecret{reason: ReasonInvalidTLSSecret, problem: "is of type " + string(s.Type) + ", not " + string(corev1.SecretTypeTLS)}
	}
	crt, k := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
	if len(crt) == 0 || len(k) == 0 {
		return &certSecret{reason: ReasonInvalidTLSSecret, problem: "lacks tls.crt or tls.key"}
	}
	if msg := b.in.CertCache.check(crt, k); msg != "" {
		return &certSecret{reason: ReasonInvalidTLSSecret, problem: "is not a valid certificate and key (" + msg + ")"}
	}
	return &certSecret{cert: crt, key: k}
}

// ruleHosts are the hosts of an Ingress's rules, sorted, without "" and duplicates.
func ruleHosts(ing *ingress) []string {
	var hosts []string
	for _, r := range ing.obj.Spec.Rules {
		if r.Host != "" {
			hosts = append(hosts, strings.ToLower(r.Host))
		}
	}
	slices.Sort(hosts)
	return slices.Compact(hosts)
}

func hostList(hosts []string) string {
	if len(hosts) == 0 {
		return "no hosts"
	}
	return strings.Join(hosts, ", ")
}
