#!/usr/bin/env bash
# End-to-end: compiles the e2e suite (and the binary, via `make build`) outside the
# namespace, where the Go module proxy is reachable, then runs it inside a private
# network namespace against a real kube-apiserver and etcd.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${KUBEBUILDER_ASSETS:?run through make test-e2e}"
mkdir -p bin
# wrk is the churn test's load generator (Debian package); the namespace has no network,
# so it is installed here. Without it the churn test runs its Go clients only and says so.
if ! command -v wrk >/dev/null 2>&1; then
  echo "e2e: installing wrk from Debian" >&2
  (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null) \
    || echo "e2e: could not install wrk; the churn test will run without it" >&2
fi
go test -c -tags e2e -o bin/e2e.test ./test/e2e
go build -o bin/demo-backend ./hack/demo-backend
export STICKY_BINARY="$PWD/bin/sticky-ingress" STICKY_REPO="$PWD"
cd test/e2e
../../hack/netns-run.sh ../../bin/e2e.test -test.v -test.count=1 -test.timeout=20m ${E2E_RUN:+-test.run "$E2E_RUN"} 2>&1 \
  | ../../hack/test-summary.sh e2e
