# sticky-ingress — every developer entry point. `make help` lists them.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

GO            ?= go
BIN           := $(CURDIR)/bin
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS       := -s -w -X main.version=$(VERSION)
CONTROLLER_GEN_VERSION := v0.23.0
HELM_VERSION  := v3.22.0
CONTROLLER_GEN := $(BIN)/controller-gen
HELM          := $(BIN)/helm
FUZZTIME      ?= 5s
UNIT_PKGS      = $$($(GO) list ./... | grep -v /test/)

.PHONY: help
help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

## --- build -----------------------------------------------------------------

.PHONY: build
build: ## build bin/sticky-ingress
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/sticky-ingress ./cmd/sticky-ingress

## --- code generation -------------------------------------------------------

$(CONTROLLER_GEN):
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)

$(HELM):
	GOBIN=$(BIN) $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

.PHONY: tools
tools: $(CONTROLLER_GEN) $(HELM) ## install pinned tools into bin/

.PHONY: generate
generate: $(CONTROLLER_GEN) ## deepcopy methods
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## CRDs and RBAC from kubebuilder markers, CRDs copied into the chart
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=sticky-ingress paths=./controllers output:rbac:artifacts:config=config/rbac
	hack/sync-chart-crds.sh

## --- checks ----------------------------------------------------------------

.PHONY: verify
verify: $(CONTROLLER_GEN) ## gofmt, go vet, generated files up to date
	hack/verify.sh

## --- tests -----------------------------------------------------------------

.PHONY: test
test: verify test-unit test-fuzz test-integration test-e2e test-chart ## every test: unit, fuzz, integration, end to end, chart
	@echo "make test: all suites passed"

.PHONY: test-unit
test-unit: ## unit tests (race detector on), then the proxy's again with it off (allocation counts, raw sockets)
	$(GO) test -race -count=1 -v $(UNIT_PKGS) 2>&1 | hack/test-summary.sh unit --quiet
	$(GO) test -count=1 -v ./proxy/... ./internal/... 2>&1 | hack/test-summary.sh "proxy, race detector off" --quiet

.PHONY: test-fuzz
test-fuzz: ## run every fuzz target briefly (FUZZTIME each)
	hack/fuzz.sh $(FUZZTIME)

.PHONY: assets
assets: ## kube-apiserver + etcd for envtest (cached outside the clone)
	@hack/control-plane.sh >/dev/null

.PHONY: test-integration
test-integration: ## envtest suite against a real kube-apiserver and etcd
	export KUBEBUILDER_ASSETS="$$(hack/control-plane.sh)"; \
	$(GO) test -count=1 -tags integration -skip TestChart -v ./test/integration/... 2>&1 | hack/test-summary.sh integration

.PHONY: test-e2e
test-e2e: build ## the real binary against a real API server inside a private network namespace
	export KUBEBUILDER_ASSETS="$$(hack/control-plane.sh)"; \
	hack/e2e.sh

.PHONY: test-chart
test-chart: $(HELM) ## helm lint + template of every toggle, applied with --dry-run=server to a real API server
	export KUBEBUILDER_ASSETS="$$(hack/control-plane.sh)"; \
	HELM=$(HELM) hack/chart-check.sh

## --- run -------------------------------------------------------------------

.PHONY: demo
demo: build ## three local backends + sticky-ingress from manifests, shown with curl
	hack/demo.sh

.PHONY: bench
bench: build ## side-by-side benchmark against nginx, HAProxy and Caddy, then control-plane scale
	hack/bench.sh
	$(MAKE) --no-print-directory bench-control-plane

.PHONY: bench-control-plane
bench-control-plane: ## 10k Ingresses / 100k endpoints: full build, and one EndpointSlice change to a new table
	go test ./controllers -run '^$$' -bench 'FullBuild10kIngresses' -benchmem -benchtime 5x -timeout 30m
	go test ./controllers -run '^$$' -bench 'EndpointSliceChange' -benchmem -benchtime 100x -timeout 30m

.PHONY: clean
clean: ## remove build output
	rm -rf $(BIN) cover.out
