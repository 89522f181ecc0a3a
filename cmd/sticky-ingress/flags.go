package main

import (
	"flag"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"time"

	crzap "sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// options are the command line; names and defaults are a contract (DESIGN.md).
type options struct {
	manifests            string
	httpAddr             string
	httpsAddr            string
	metricsAddr          string
	healthAddr           string
	ingressClass         string
	watchNamespace       string
	leaderElect          bool
	leaderElectNamespace string
	publishService       string
	publishAddresses     string
	cookieKeyFile        string
	trustedProxies       string
	proxyProtocol        bool
	accessLog            bool
	workers              int
	ioUring              bool
	balanceConnections   bool
	shutdownDelay        time.Duration
	shutdownTimeout      time.Duration
	zap                  crzap.Options
}

func parseFlags(fs *flag.FlagSet, args []string) (*options, error) {
	o := &options{}
	fs.StringVar(&o.manifests, "manifests", "", "run without a cluster: read Ingress/Service/EndpointSlice/StickyPolicy/Secret YAML from this directory (re-read on change)")
	fs.StringVar(&o.httpAddr, "http-addr", ":8080", "HTTP proxy listener")
	fs.StringVar(&o.httpsAddr, "https-addr", ":8443", "HTTPS proxy listener (empty: off)")
	fs.StringVar(&o.metricsAddr, "metrics-addr", ":10254", "Prometheus /metrics listener (0: off)")
	fs.StringVar(&o.healthAddr, "health-addr", ":10255", "/healthz and /readyz listener")
	fs.StringVar(&o.ingressClass, "ingress-class", "sticky", "IngressClass name this controller serves")
	fs.StringVar(&o.watchNamespace, "watch-namespace", "", "limit to one namespace (default: all)")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "elect a leader for status writes (every replica serves traffic)")
	fs.StringVar(&o.leaderElectNamespace, "leader-elect-namespace", "", "namespace of the leader-election Lease (default: the pod's namespace)")
	fs.StringVar(&o.publishService, "publish-service", "", "namespace/name of the Service whose addresses go into Ingress status.loadBalancer")
	fs.StringVar(&o.publishAddresses, "publish-status-address", "", "comma-separated IPs or hostnames for Ingress status.loadBalancer (wins over --publish-service)")
	fs.StringVar(&o.cookieKeyFile, "cookie-key-file", "", "file with one cookie key per line: the first signs, all verify (re-read on change)")
	fs.StringVar(&o.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-For / X-Real-IP is believed")
	fs.BoolVar(&o.proxyProtocol, "proxy-protocol", false, "expect PROXY protocol v1/v2 on the proxy listeners")
	fs.BoolVar(&o.accessLog, "access-log", false, "write one JSON access-log line per request to stdout")
	fs.IntVar(&o.workers, "workers", 1, "proxy worker processes: 1 serves from this process; N > 1 from N single-threaded workers on SO_REUSEPORT listeners (nginx's model; one per core is fastest); 0 = one per CPU available")
	fs.BoolVar(&o.balanceConnections, "balance-connections", false, "with --workers: a worker that accepts a connection while another has fewer open passes it over, so that a few long-lived connections (a load balancer's, a mesh's) spread evenly rather than by SO_REUSEPORT's hash; each move costs ~20 µs of CPU, so leave it off for clients that open a connection per request. sticky_ingress_worker_open_connections shows the spread")
	fs.BoolVar(&o.ioUring, "io-uring", true, "where one thread serves (each --workers process), send small writes in batches through io_uring, a system call for many; false, or where the kernel refuses io_uring (seccomp, sysctl): a system call each")
	fs.DurationVar(&o.shutdownDelay, "shutdown-delay", 0, "on SIGTERM, report not-ready and keep serving this long before closing listeners (lets load balancers notice)")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 25*time.Second, "how long in-flight requests may take to finish at shutdown")
	o.zap.Development = false
	o.zap.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.workers < 0 {
		err := fmt.Errorf("--workers %d: want 0 (one per CPU) or more", o.workers)
		fmt.Fprintln(fs.Output(), err)
		return nil, err
	}
	if o.workers == 0 {
		o.workers = runtime.GOMAXPROCS(0) // the CPUs this process may use (cgroup limits included)
	}
	return o, nil
}

// trustedPrefixes parses --trusted-proxies; a bare address means a single host.
func (o *options) trustedPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range splitList(o.trustedProxies) {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %q is neither a CIDR nor an address", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
