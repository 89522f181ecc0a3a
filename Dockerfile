# syntax=docker/dockerfile:1
# sticky-ingress image: a static Go binary on distroless, running as non-root.
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t sticky-ingress .
# Multi-arch: docker buildx build --platform linux/amd64,linux/arm64 … (cross-compiled, no emulation).

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
# Dependencies first: this layer is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
COPY proxy/ proxy/
ARG VERSION=dev
ARG TARGETOS=linux
ARG TARGETARCH
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/sticky-ingress ./cmd/sticky-ingress

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sticky-ingress /sticky-ingress
# The chart's securityContext says the same: uid/gid 65532 (distroless "nonroot").
USER 65532:65532
# http, https (proxy); metrics; /healthz and /readyz. All above 1024: no capabilities needed.
EXPOSE 8080 8443 10254 10255
ENTRYPOINT ["/sticky-ingress"]
