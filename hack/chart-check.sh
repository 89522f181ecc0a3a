#!/usr/bin/env bash
# Checks the Helm chart: `helm lint` (plain and --strict), then the Go chart tests
# (test/integration/chart_test.go): every values toggle rendered and applied with a
# server-side dry run to a real kube-apiserver, the ClusterRole against config/rbac,
# least privilege through SubjectAccessReviews, and a real install/upgrade/uninstall.
#
#   export KUBEBUILDER_ASSETS=$(hack/control-plane.sh); HELM=$PWD/bin/helm hack/chart-check.sh
# (`make test-chart` does both.)
set -euo pipefail
cd "$(dirname "$0")/.."

: "${HELM:?HELM must name the helm binary (make test-chart sets HELM=bin/helm)}"
: "${KUBEBUILDER_ASSETS:?KUBEBUILDER_ASSETS is not set: export KUBEBUILDER_ASSETS=\$(hack/control-plane.sh)}"
# go test runs in the package directory, so the path must not be relative.
HELM="$(cd "$(dirname "$HELM")" && pwd)/$(basename "$HELM")"
export HELM
chart=charts/sticky-ingress

echo "== helm lint $chart"
"$HELM" lint "$chart"
echo "== helm lint --strict $chart"
"$HELM" lint --strict "$chart"

echo "== go test -run TestChart (real kube-apiserver + etcd)"
go test -count=1 -tags integration -run 'TestChart' -v ./test/integration/ 2>&1 | hack/test-summary.sh chart
