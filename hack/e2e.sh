#!/usr/bin/env bash
# End-to-end: compiles the e2e suite (and the binary, via `make build`) outside the
# namespace, where the Go module proxy is reachable, then runs it inside a private
# network namespace against a real kube-apiserver and etcd.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${KUBEBUILDER_ASSETS:?run through make test-e2e}"
mkdir -p bin
go test -c -tags e2e -o bin/e2e.test ./test/e2e
go build -o bin/demo-backend ./hack/demo-backend
export STICKY_BINARY="$PWD/bin/sticky-ingress" STICKY_REPO="$PWD"
cd test/e2e
../../hack/netns-run.sh ../../bin/e2e.test -test.v -test.count=1 -test.timeout=20m ${E2E_RUN:+-test.run "$E2E_RUN"} 2>&1 \
  | ../../hack/test-summary.sh e2e
