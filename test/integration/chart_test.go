//go:build integration

package integration

// The Helm chart against the real API server: every values toggle rendered by the real
// helm binary and applied with a server-side dry run, the ClusterRole compared with
// config/rbac, least privilege asked of the authorizer, and a real install, upgrade and
// uninstall that must keep the cookie key. hack/chart-check.sh (make test-chart) runs
// these with HELM set.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/sticky-ingress/sticky-ingress/test/testenv"
)

func TestChartRendersAndApplies(t *testing.T) {
	helm := newHelm(t)
	c := newCluster(t)
	cases := []struct {
		name  string
		args  []string
		check func(t *testing.T, ns string, objs []*unstructured.Unstructured)
	}{
		{"defaults", nil, checkDefaults},
		{"autoscaling", set("autoscaling.enabled=true"), func(t *testing.T, _ string, objs []*unstructured.Unstructured) {
			wantCount(t, objs, "HorizontalPodAutoscaler", 1)
			var d appsv1.Deployment
			typed(t, objs, "Deployment", &d)
			if d.Spec.Replicas != nil {
				t.Errorf("with an HPA the Deployment must not set replicas, got %d", *d.Spec.Replicas)
			}
			wantCount(t, objs, "PodDisruptionBudget", 1) // minReplicas 2
		}},
		{"serviceMonitor", set("metrics.serviceMonitor.enabled=true"), func(t *testing.T, _ string, objs []*unstructured.Unstructured) {
			wantCount(t, objs, "ServiceMonitor", 1)
			sel, _, _ := unstructured.NestedStringMap(ofKind(objs, "ServiceMonitor")[0].Object, "spec", "selector", "matchLabels")
			var metricsSvc *unstructured.Unstructured
			for _, s := range ofKind(objs, "Service") {
				if strings.HasSuffix(s.GetName(), "-metrics") {
					metricsSvc = s
				}
			}
			if metricsSvc == nil {
				t.Fatal("no metrics Service for the ServiceMonitor to select")
			}
			for k, v := range sel {
				if metricsSvc.GetLabels()[k] != v {
					t.Errorf("ServiceMonitor selects %s=%s, metrics Service has %q", k, v, metricsSvc.GetLabels()[k])
				}
			}
		}},
		{"pdb off", set("podDisruptionBudget.enabled=false"), func(t *testing.T, _ string, objs []*unstructured.Unstructured) {
			wantCount(t, objs, "PodDisruptionBudget", 0)
		}},
		{"one replica has no pdb", set("replicaCount=1"), func(t *testing.T, _ string, objs []*unstructured.Unstructured) {
			wantCount(t, objs, "PodDisruptionBudget", 0) // minAvailable 1 would block every drain
		}},
		{"ingressClass default", set("ingressClass.default=true"), func(t *testing.T, _ string, objs []*unstructured.Unstructured) {
			ic := ofKind(objs, "IngressClass")
			if len(ic) != 1 || ic[0].GetAnnotations()["ingressclass.kubernetes.io/is-default-class"] != "true" {
				t.Errorf("IngressClass is not marked default: %v", ic)
			}
		}},
		{"existingSecret", set("cookieKey.existingSecret=my-keys", "cookieKey.existingSecretKey=cookie.keys"),
			func(t *testing.T, _ string, objs []*unstructured.Unstructured) {
				wantCount(t, objs, "Secret", 0)
				var d appsv1.Deployment
				typed(t, objs, "Deployment", &d)
				v := d.Spec.Template.Spec.Volumes[0].Secret
				if v.SecretName != "my-keys" || len(v.Items) != 1 || v.Items[0].Key != "cookie.keys" || v.Items[0].Path != "keys" {
					t.Errorf("cookie-key volume = %+v, want my-keys/cookie.keys mounted as keys", v)
				}
			}},
		{"crds disabled", set("crds.enabled=false"), func(t *testing.T, _ string, objs []*unstructured.Unstructured) {
			wantCount(t, objs, "CustomResourceDefinition", 0)
		}},
		{"crds not kept", set("crds.keep=false"), func(t *testing.T, _ string, objs []*unstructured.Unstructured) {
			crds := ofKind(objs, "CustomResourceDefinition")
			if len(crds) != 1 || crds[0].GetAnnotations()["helm.sh/resource-policy"] != "" {
				t.Errorf("want the CRD without resource-policy keep, got %v", crds)
			}
		}},
		{"service NodePort", set("service.type=NodePort", "service.nodePorts.http=30080"), func(t *testing.T, _ string, objs []*unstructured.Unstructured) {
			svc := proxyService(t, objs)
			if svc.Spec.Type != corev1.ServiceTypeNodePort || svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal ||
				svc.Spec.Ports[0].NodePort != 30080 {
				t.Errorf("Service spec = %+v", svc.Spec)
			}
		}},
		{"service ClusterIP", set("service.type=ClusterIP"), func(t *testing.T, _ string, objs []*unstructured.Unstructured) {
			svc := proxyService(t, objs)
			if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.ExternalTrafficPolicy != "" {
				t.Errorf("Service spec = %+v; ClusterIP must not carry externalTrafficPolicy", svc.Spec)
			}
		}},
		{"workers", set("workers=2"), func(t *testing.T, _ string, objs []*unstructured.Unstructured) {
			wantArgs(t, objs, "--workers=2")
		}},
		{"balanceConnections", set("workers=2", "balanceConnections=true"), func(t *testing.T, _ string, objs []*unstructured.Unstructured) {
			wantArgs(t, objs, "--workers=2", "--balance-connections")
		}},
		{"watchNamespace", set("watchNamespace=shop"), func(t *testing.T, _ string, objs []*unstructured.Unstructured) {
			wantArgs(t, objs, "--watch-namespace=shop")
		}},
		{"extraArgs", []string{"--set-json", `extraArgs=["--access-log","--trusted-proxies=10.0.0.0/8"]`},
			func(t *testing.T, _ string, objs []*unstructured.Unstructured) {
				args := containerArgs(t, objs)
				if !slices.Equal(args[len(args)-2:], []string{"--access-log", "--trusted-proxies=10.0.0.0/8"}) {
					t.Errorf("extraArgs must come last, args = %q", args)
				}
			}},
		{"shutdown timings", set("shutdown.delaySeconds=10", "shutdown.timeoutSeconds=50"), func(t *testing.T, _ string, objs []*unstructured.Unstructured) {
			var d appsv1.Deployment
			typed(t, objs, "Deployment", &d)
			if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g != 65 {
				t.Errorf("terminationGracePeriodSeconds = %v, want 10+50+5", g)
			}
			wantArgs(t, objs, "--shutdown-delay=10s", "--shutdown-timeout=50s")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := createNamespace(t, "chart")
			objs := helm.render(t, "edge", ns, tc.args...)
			if len(ofKind(objs, "ServiceMonitor")) > 0 {
				c.installServiceMonitorCRD(t)
			}
			c.applyAll(t, objs, true)
			tc.check(t, ns, objs)
		})
	}
}

func proxyService(t *testing.T, objs []*unstructured.Unstructured) corev1.Service {
	t.Helper()
	for _, o := range ofKind(objs, "Service") {
		if o.GetName() == "edge-sticky-ingress" {
			var s corev1.Service
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &s); err != nil {
				t.Fatal(err)
			}
			return s
		}
	}
	t.Fatal("no proxy Service edge-sticky-ingress rendered")
	return corev1.Service{}
}

// checkDefaults pins what a plain `helm install` gives: the production settings the
// chart promises.
func checkDefaults(t *testing.T, ns string, objs []*unstructured.Unstructured) {
	for kind, n := range map[string]int{"ServiceAccount": 1, "ClusterRole": 1, "ClusterRoleBinding": 1, "Role": 1,
		"RoleBinding": 1, "Deployment": 1, "Service": 2, "IngressClass": 1, "Secret": 1, "PodDisruptionBudget": 1,
		"CustomResourceDefinition": 1, "HorizontalPodAutoscaler": 0, "ServiceMonitor": 0} {
		wantCount(t, objs, kind, n)
	}

	var d appsv1.Deployment
	typed(t, objs, "Deployment", &d)
	pod := d.Spec.Template.Spec
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %v, want 2", d.Spec.Replicas)
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g != 35 {
		t.Errorf("terminationGracePeriodSeconds = %v, want 5+25+5", g)
	}
	if len(pod.TopologySpreadConstraints) != 1 || pod.TopologySpreadConstraints[0].TopologyKey != "kubernetes.io/hostname" ||
		pod.TopologySpreadConstraints[0].WhenUnsatisfiable != corev1.ScheduleAnyway {
		t.Errorf("topologySpreadConstraints = %+v", pod.TopologySpreadConstraints)
	}
	if pod.Affinity == nil || pod.Affinity.PodAntiAffinity == nil ||
		len(pod.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 ||
		len(pod.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 0 {
		t.Errorf("want one soft pod anti-affinity term, got %+v", pod.Affinity)
	}
	ctr := pod.Containers[0]
	want := []string{"--ingress-class=sticky", "--http-addr=:8080", "--https-addr=:8443", "--metrics-addr=:10254",
		"--health-addr=:10255", "--leader-elect=true", "--leader-elect-namespace=$(POD_NAMESPACE)",
		"--publish-service=" + ns + "/edge-sticky-ingress", "--cookie-key-file=/etc/sticky-ingress/cookie-keys/keys",
		"--shutdown-delay=5s", "--shutdown-timeout=25s", "--zap-log-level=info", "--zap-encoder=json"}
	if !slices.Equal(ctr.Args, want) {
		t.Errorf("args\n got %q\nwant %q", ctr.Args, want)
	}
	if len(ctr.Env) != 1 || ctr.Env[0].Name != "POD_NAMESPACE" || ctr.Env[0].ValueFrom == nil ||
		ctr.Env[0].ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("env = %+v, want POD_NAMESPACE from the downward API", ctr.Env)
	}
	ports := map[string]int32{}
	for _, p := range ctr.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if fmt.Sprint(ports) != fmt.Sprint(map[string]int32{"http": 8080, "https": 8443, "metrics": 10254, "health": 10255}) {
		t.Errorf("container ports = %v", ports)
	}
	if p := ctr.LivenessProbe; p == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != "health" {
		t.Errorf("livenessProbe = %+v", p)
	}
	if p := ctr.ReadinessProbe; p == nil || p.HTTPGet.Path != "/readyz" || p.HTTPGet.Port.String() != "health" {
		t.Errorf("readinessProbe = %+v", p)
	}
	sc := ctr.SecurityContext
	if sc == nil || !*sc.RunAsNonRoot || *sc.RunAsUser != 65532 || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation ||
		!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container securityContext = %+v", sc)
	}
	r := ctr.Resources
	if r.Requests.Cpu().String() != "100m" || r.Requests.Memory().String() != "128Mi" || r.Limits.Memory().String() != "512Mi" {
		t.Errorf("resources = %+v", r)
	}
	if len(ctr.VolumeMounts) != 1 || ctr.VolumeMounts[0].MountPath != "/etc/sticky-ingress/cookie-keys" || !ctr.VolumeMounts[0].ReadOnly {
		t.Errorf("volumeMounts = %+v", ctr.VolumeMounts)
	}

	svc := proxyService(t, objs)
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
		t.Errorf("Service type/externalTrafficPolicy = %s/%s, want LoadBalancer/Local", svc.Spec.Type, svc.Spec.ExternalTrafficPolicy)
	}
	for i, want := range []struct {
		port   int32
		target string
	}{{80, "http"}, {443, "https"}} {
		if p := svc.Spec.Ports[i]; p.Port != want.port || p.TargetPort.String() != want.target {
			t.Errorf("Service port %d = %d->%s, want %d->%s", i, p.Port, p.TargetPort.String(), want.port, want.target)
		}
	}

	ic := ofKind(objs, "IngressClass")[0]
	if ctl, _, _ := unstructured.NestedString(ic.Object, "spec", "controller"); ic.GetName() != "sticky" ||
		ctl != "sticky-ingress.io/ingress-controller" || len(ic.GetAnnotations()) != 0 {
		t.Errorf("IngressClass = %s %s %v", ic.GetName(), ctl, ic.GetAnnotations())
	}

	var sec corev1.Secret
	typed(t, objs, "Secret", &sec)
	if sec.Annotations["helm.sh/resource-policy"] != "keep" || len(sec.Data["keys"]) != 48 {
		t.Errorf("cookie key Secret: annotations %v, key of %d bytes; want keep and 48", sec.Annotations, len(sec.Data["keys"]))
	}
	if a := ofKind(objs, "CustomResourceDefinition")[0].GetAnnotations()["helm.sh/resource-policy"]; a != "keep" {
		t.Errorf("CRD resource-policy = %q, want keep", a)
	}
}

// ruleSet expands policy rules into one "group resource verb" line per permission,
// so two ClusterRoles compare by what they allow, not by how their rules are grouped.
func ruleSet(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out = append(out, fmt.Sprintf("group=%q resource=%s verb=%s names=%v", g, res, v, r.ResourceNames))
				}
			}
		}
		for _, u := range r.NonResourceURLs {
			for _, v := range r.Verbs {
				out = append(out, fmt.Sprintf("url=%s verb=%s", u, v))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestChartClusterRoleMatchesGenerated(t *testing.T) {
	helm := newHelm(t)
	var chartRole rbacv1.ClusterRole
	typed(t, helm.render(t, "edge", "sticky-system"), "ClusterRole", &chartRole)
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var generated rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(data, &generated); err != nil {
		t.Fatal(err)
	}
	got, want := ruleSet(chartRole.Rules), ruleSet(generated.Rules)
	for _, p := range want {
		if !slices.Contains(got, p) {
			t.Errorf("chart ClusterRole lacks %s (in config/rbac/role.yaml)", p)
		}
	}
	for _, p := range got {
		if !slices.Contains(want, p) {
			t.Errorf("chart ClusterRole grants %s, which config/rbac/role.yaml does not", p)
		}
	}
}

func TestChartLeastPrivilege(t *testing.T) {
	helm := newHelm(t)
	c := newCluster(t)
	ns := createNamespace(t, "chart-rbac")
	// The release is named after its namespace so the cluster-scoped names are unique.
	objs := helm.render(t, ns, ns)
	var rbac []*unstructured.Unstructured
	for _, kind := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} {
		rbac = append(rbac, ofKind(objs, kind)...)
	}
	c.applyAll(t, rbac, false)
	sa := ofKind(objs, "ServiceAccount")[0].GetName()

	type access struct {
		verb, group, resource, subresource, namespace string
	}
	describe := func(a access) string {
		r := a.resource
		if a.group != "" {
			r += "." + a.group
		}
		if a.subresource != "" {
			r += "/" + a.subresource
		}
		where := "cluster-wide"
		if a.namespace != "" {
			where = "in namespace " + a.namespace
		}
		return a.verb + " " + r + " " + where
	}
	can := func(a access) bool {
		t.Helper()
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   fmt.Sprintf("system:serviceaccount:%s:%s", ns, sa),
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: a.verb, Group: a.group,
				Resource: a.resource, Subresource: a.subresource, Namespace: a.namespace},
		}}
		got, err := c.cs.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), sar, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("SubjectAccessReview %+v: %v", a, err)
		}
		return got.Status.Allowed
	}
	var must, mustNot []access
	// Cluster-wide reads: the controller watches every namespace (namespace "").
	for _, r := range []struct{ group, resource string }{{"networking.k8s.io", "ingresses"}, {"", "services"},
		{"discovery.k8s.io", "endpointslices"}, {"", "secrets"}, {"networking.k8s.io", "ingressclasses"},
		{"sticky-ingress.io", "stickypolicies"}} {
		for _, v := range []string{"get", "list", "watch"} {
			must = append(must, access{v, r.group, r.resource, "", ""})
		}
	}
	must = append(must,
		access{"update", "networking.k8s.io", "ingresses", "status", "shop"},
		access{"patch", "networking.k8s.io", "ingresses", "status", "shop"},
		access{"update", "sticky-ingress.io", "stickypolicies", "status", "shop"},
		access{"create", "", "events", "", "shop"},
		access{"create", "events.k8s.io", "events", "", "shop"},
		access{"create", "coordination.k8s.io", "leases", "", ns},
		access{"update", "coordination.k8s.io", "leases", "", ns},
	)
	for _, v := range []string{"create", "update", "patch", "delete"} {
		mustNot = append(mustNot,
			access{v, "networking.k8s.io", "ingresses", "", "shop"},
			access{v, "", "services", "", "shop"},
			access{v, "", "secrets", "", "shop"})
	}
	mustNot = append(mustNot,
		access{"get", "", "pods", "", "shop"},
		access{"list", "", "pods", "", ""},
		access{"update", "sticky-ingress.io", "stickypolicies", "", "shop"},
		access{"delete", "sticky-ingress.io", "stickypolicies", "", "shop"},
		access{"update", "networking.k8s.io", "ingressclasses", "", ""},
		access{"create", "coordination.k8s.io", "leases", "", "shop"}, // leader election only at home
		access{"create", "rbac.authorization.k8s.io", "clusterrolebindings", "", ""},
		access{"escalate", "rbac.authorization.k8s.io", "clusterroles", "", ""},
		access{"bind", "rbac.authorization.k8s.io", "clusterroles", "", ""},
		access{"impersonate", "", "users", "", ""},
		access{"create", "", "serviceaccounts", "token", ns},
		access{"*", "*", "*", "", ""},
	)
	for _, a := range must {
		if !can(a) {
			t.Errorf("the chart's ServiceAccount cannot %s; the controller needs to", describe(a))
		}
	}
	for _, a := range mustNot {
		if can(a) {
			t.Errorf("the chart's ServiceAccount can %s; least privilege says it must not", describe(a))
		}
	}
	t.Logf("%d permissions granted and %d refused, as required", len(must), len(mustNot))
}

func TestChartInstallUpgradeKeepsCookieKey(t *testing.T) {
	helm := newHelm(t)
	c := newCluster(t)
	ctx := context.Background()
	user, err := env.ControlPlane.AddUser(envtest.User{Name: "helm", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kcPath := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kcPath, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}

	ns := createNamespace(t, "chart-install")
	// Cluster-scoped names must not collide with other tests' objects: an IngressClass
	// of its own (other tests create "sticky").
	class := "sticky-" + ns
	common := []string{"--kubeconfig", kcPath, "--namespace", ns, "--set", "ingressClass.name=" + class}
	const release = "edge"

	// envtest installed the StickyPolicy CRD from config/crd/bases, as a user who applied
	// it before Helm would have. Helm adopts an existing object only when it carries the
	// release's ownership metadata, so add it (Helm's documented adoption path).
	adopt := fmt.Sprintf(`{"metadata":{"labels":{"app.kubernetes.io/managed-by":"Helm"},`+
		`"annotations":{"meta.helm.sh/release-name":%q,"meta.helm.sh/release-namespace":%q}}}`, release, ns)
	if _, err := c.dyn.Resource(crdGVR).Patch(ctx, chartCRD, types.MergePatchType, []byte(adopt), metav1.PatchOptions{}); err != nil {
		t.Fatalf("marking the CRD for adoption: %v", err)
	}

	cookieKey := func() string {
		t.Helper()
		var s corev1.Secret
		if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: release + "-sticky-ingress-cookie-key"}, &s); err != nil {
			t.Fatalf("reading the cookie key Secret: %v", err)
		}
		return string(s.Data["keys"])
	}

	out := helm.run(t, append([]string{"install", release, chartDir()}, common...)...)
	t.Logf("helm install:\n%s", out)
	key := cookieKey()
	if len(key) != 48 {
		t.Fatalf("generated cookie key is %d bytes, want 48", len(key))
	}

	helm.run(t, append([]string{"upgrade", release, chartDir()}, common...)...)
	if got := cookieKey(); got != key {
		t.Errorf("helm upgrade changed the cookie key: %s… -> %s…", key[:6], got[:6])
	}
	helm.run(t, append([]string{"upgrade", release, chartDir(), "--set", "replicaCount=3"}, common...)...)
	if got := cookieKey(); got != key {
		t.Errorf("helm upgrade with a changed value changed the cookie key: %s… -> %s…", key[:6], got[:6])
	}
	var d appsv1.Deployment
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: release + "-sticky-ingress"}, &d); err != nil {
		t.Fatal(err)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("the upgrade did not apply: replicas = %v, want 3", d.Spec.Replicas)
	}

	helm.run(t, "uninstall", release, "--kubeconfig", kcPath, "--namespace", ns)
	if got := cookieKey(); got != key {
		t.Errorf("after uninstall the kept Secret holds another key")
	}
	if _, err := c.dyn.Resource(crdGVR).Get(ctx, chartCRD, metav1.GetOptions{}); err != nil {
		t.Errorf("helm uninstall removed the kept CRD: %v", err)
	}
	// Everything without resource-policy keep is gone.
	eventually(t, "uninstalled Deployment gone", func() error {
		err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: release + "-sticky-ingress"}, &appsv1.Deployment{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (err %v)", err)
	})

	// A reinstall adopts the kept Secret and the key comes back unchanged.
	helm.run(t, append([]string{"install", release, chartDir()}, common...)...)
	if got := cookieKey(); got != key {
		t.Errorf("reinstall drew a new cookie key instead of reusing the kept one")
	}
	helm.run(t, "uninstall", release, "--kubeconfig", kcPath, "--namespace", ns)
}
