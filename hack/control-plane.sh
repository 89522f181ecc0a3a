#!/usr/bin/env bash
# Provides the control-plane binaries that envtest and the end-to-end tests run:
# kube-apiserver (built from the Go module proxy; it is not packaged anywhere we can
# reach) and etcd (Debian's etcd-server). Both land in one cache directory outside the
# clone, so a fresh clone on a warm machine pays nothing; a cold machine pays ~10 min once.
#
# Prints the directory to use as KUBEBUILDER_ASSETS on its last line.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.37.0}"
STAGING_VERSION="v0.${K8S_VERSION#1.}"
CACHE="${STICKY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sticky-ingress}"
ASSETS="$CACHE/k8s-$K8S_VERSION"
mkdir -p "$ASSETS"

log() { echo "control-plane: $*" >&2; }

ensure_etcd() {
  if [[ -x "$ASSETS/etcd" ]]; then return; fi
  if ! command -v etcd >/dev/null 2>&1 && [[ ! -x /usr/bin/etcd ]]; then
    log "installing etcd-server from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq etcd-server >/dev/null
    # The package starts a system etcd on :2379; tests run their own.
    (systemctl stop etcd 2>/dev/null || service etcd stop 2>/dev/null || pkill -x etcd || true) >/dev/null 2>&1
  fi
  ln -sf "$(command -v etcd || echo /usr/bin/etcd)" "$ASSETS/etcd"
}

ensure_kube_apiserver() {
  if [[ -x "$ASSETS/kube-apiserver" ]]; then return; fi
  log "building kube-apiserver v$K8S_VERSION from the Go module proxy (about 10 minutes, once)"
  local work; work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  (
    cd "$work"
    export GOFLAGS=-mod=mod GOWORK=off
    go mod init sticky-ingress.local/kube-apiserver-build >/dev/null 2>&1
    go mod edit -go=1.26.0 -require="k8s.io/kubernetes@v$K8S_VERSION"
    go mod download "k8s.io/kubernetes@v$K8S_VERSION"
    local kdir; kdir="$(go env GOMODCACHE)/k8s.io/kubernetes@v$K8S_VERSION"
    # Every staging module the kubernetes go.mod replaces with ./staging/... gets its release tag.
    sed -n '/^replace (/,/^)/p' "$kdir/go.mod" | awk '$2=="=>"{print $1}' | while read -r mod; do
      go mod edit -replace="$mod=$mod@$STAGING_VERSION"
    done
    printf 'package main\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver/app"\nfunc main() {}\n' > tools.go
    go mod tidy >/dev/null 2>&1 || go mod tidy
    local v=k8s.io/component-base/version minor="${K8S_VERSION#1.}"; minor="${minor%%.*}"
    CGO_ENABLED=0 go build -trimpath -o "$ASSETS/kube-apiserver.tmp" \
      -ldflags "-s -w -X $v.gitVersion=v$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean" \
      k8s.io/kubernetes/cmd/kube-apiserver
  )
  mv "$ASSETS/kube-apiserver.tmp" "$ASSETS/kube-apiserver"
}

ensure_etcd
ensure_kube_apiserver
"$ASSETS/kube-apiserver" --version >&2
echo "$ASSETS"
