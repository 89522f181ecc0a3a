package affinity_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/sticky-ingress/sticky-ingress/proxy/affinity"
	"github.com/sticky-ingress/sticky-ingress/proxy/routetable"
)

// The proxy's life cycle: one key ring and one registry for the process; per
// snapshot a Matcher and the pickers; per request a match, a pick, and the in-flight
// and health bookkeeping around the upstream call.
func Example() {
	keys, _ := affinity.NewKeyRing([][]byte{[]byte("cluster-cookie-key-0123456789abcdef")})
	reg := affinity.NewRegistry(affinity.RegistryOptions{
		OnEject: func(id, addr string, d time.Duration) { /* count a metric, log */ },
	})

	snap := &routetable.Snapshot{
		VirtualHosts: []routetable.VirtualHost{{Host: "shop.example.com", Routes: []routetable.Route{
			{Path: "/cart", PathType: routetable.PathPrefix, Backend: "shop/cart:80"},
		}}},
		Backends: []routetable.Backend{{
			Name: "shop/cart:80",
			Endpoints: []routetable.Endpoint{
				{ID: "pod-a", Address: "10.0.0.1:8080", Ready: true, Serving: true},
				{ID: "pod-b", Address: "10.0.0.2:8080", Ready: true, Serving: true},
			},
			Affinity: routetable.AffinityPolicy{Cookie: &routetable.CookieAffinity{Name: "CART", HTTPOnly: true, SameSite: routetable.SameSiteLax}},
		}},
	}
	m, err := routetable.Compile(snap)
	if err != nil {
		panic(err)
	}
	pickers, err := affinity.CompileAll(snap, keys, reg, affinity.Options{})
	if err != nil {
		panic(err)
	}

	// Per request.
	hr, _ := http.NewRequest("GET", "http://Shop.Example.com:8080/cart/items", nil)
	route, bi, ok := m.Match(hr.Host, hr.URL.Path)
	if !ok {
		return // 404
	}
	routePath := "/" // the default backend has no route
	if route != nil {
		routePath = route.Path
	}
	d := pickers[bi].Pick(&affinity.Request{HTTP: hr, ClientIP: netip.MustParseAddr("198.51.100.7"), RoutePath: routePath})
	if d.Endpoint == nil {
		return // 503: d.Outcome is OutcomeStrictMiss or OutcomeNoEndpoint
	}
	d.Endpoint.State.Begin()
	// ... proxy to d.Endpoint.Address; on a connection error, Retry(r, d.Endpoint) ...
	d.Endpoint.State.End(true)

	fmt.Println(d.Outcome, d.Cookie.Name, d.Cookie.Path, d.Cookie.HttpOnly)

	// The client comes back with its cookie.
	hr.Header.Set("Cookie", d.Cookie.Name+"="+d.Cookie.Value)
	again := pickers[bi].Pick(&affinity.Request{HTTP: hr, RoutePath: routePath})
	fmt.Println(again.Outcome, again.Endpoint == d.Endpoint, again.Cookie == nil)
	// Output:
	// new CART /cart true
	// hit true true
}
