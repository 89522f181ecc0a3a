#!/usr/bin/env bash
# gofmt, go vet, and generated files up to date: regenerates deepcopy, CRDs, RBAC and
# the chart's CRD templates and fails if that changed anything. Also that the
# Dockerfile copies every directory the binary is built from (no Docker engine here
# to find out by building it), and that the packages with Linux-only parts (worker
# processes, raw sockets, io_uring: proxy/, internal/) still build for macOS, a
# developer's laptop, where they have stand-ins. (The whole binary for macOS takes
# four minutes from a cold cache; these, forty seconds.)
set -euo pipefail
cd "$(dirname "$0")/.."
generated() { find api config charts/sticky-ingress/templates/crds -type f 2>/dev/null | sort | xargs sha256sum; }
before="$(generated)"
make -s generate manifests >/dev/null
after="$(generated)"
if [[ "$before" != "$after" ]]; then
  echo "verify: generated files were stale (now regenerated); commit them:"
  diff <(echo "$before") <(echo "$after") || true
  exit 1
fi
unformatted="$(gofmt -l $(git ls-files --cached --others --exclude-standard '*.go'))"
if [[ -n "$unformatted" ]]; then echo "verify: gofmt needed:"; echo "$unformatted"; exit 1; fi
go vet ./...
go vet -tags integration,e2e ./test/...
GOOS=darwin GOARCH=arm64 go build -o /dev/null ./proxy/... ./internal/...
module="$(go list -m)"
for dir in $(go list -deps ./cmd/sticky-ingress | sed -n "s#^$module/\([^/]*\).*#\1#p" | sort -u); do
  grep -q "^COPY $dir/ $dir/" Dockerfile || { echo "verify: the Dockerfile does not copy $dir/, which the binary imports"; exit 1; }
done
echo "verify: formatting, vet and generated files OK"
