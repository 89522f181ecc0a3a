#!/usr/bin/env bash
# `make demo`: three demo backends on loopback, sticky-ingress serving hack/demo/*.yaml
# (no cluster), and curl showing cookie, source-IP and header stickiness the way the
# classic nginx sticky-session demos do. Keeps running until Ctrl-C (DEMO_EXIT=1: exit
# after the walkthrough).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${DEMO_PORT:-8080}"
HEALTH="${DEMO_HEALTH_PORT:-10255}"
MANIFESTS="$PWD/hack/demo"
RUN="$(mktemp -d)"
pids=()

cleanup() {
  trap - EXIT INT TERM
  echo; echo "stopping demo..."
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$RUN"
  echo "demo stopped."
}
trap cleanup EXIT INT TERM

command -v curl >/dev/null || { echo "demo: curl is needed (apt-get install curl)"; exit 1; }
go build -o bin/demo-backend ./hack/demo-backend

for i in 1 2 3; do
  bin/demo-backend --listen "127.0.0.1$i:9000" --name "backend-$i" >"$RUN/backend-$i.log" 2>&1 &
  pids+=($!)
done
key="$RUN/cookie-keys"; head -c 32 /dev/urandom | base64 >"$key"
bin/sticky-ingress --manifests "$MANIFESTS" --cookie-key-file "$key" \
  --http-addr "127.0.0.1:$PORT" --https-addr "127.0.0.1:$((PORT + 363))" \
  --health-addr "127.0.0.1:$HEALTH" --metrics-addr "127.0.0.1:$((HEALTH - 1))" \
  >"$RUN/sticky-ingress.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$HEALTH/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
if ! curl -fs "http://127.0.0.1:$HEALTH/readyz" >/dev/null; then
  echo "demo: sticky-ingress did not become ready; its log:"; cat "$RUN/sticky-ingress.log"; exit 1
fi

# req HOST [curl args...]: one request through the proxy, printing the backend's line.
req() {
  local host="$1"; shift
  curl -s --connect-to "::127.0.0.1:$PORT" "$@" "http://$host/"
}

echo "== Cookie affinity (sticky-ingress.io/affinity: cookie) =="
echo "-- one client with a cookie jar, five requests:"
for _ in 1 2 3 4 5; do req cookie.demo.localhost -b "$RUN/alice.txt" -c "$RUN/alice.txt"; done
echo "-- its cookie: $(grep -h STICKY "$RUN/alice.txt" | awk '{print $6"="$7}')"
echo "-- a new client lands elsewhere:"
for _ in 1 2 3; do req cookie.demo.localhost -b "$RUN/bob.txt" -c "$RUN/bob.txt"; done
echo

echo "== Source-IP affinity (nginx.ingress.kubernetes.io/upstream-hash-by: \$remote_addr) =="
echo "-- client 127.0.0.2, five requests (no affinity cookie; the address decides):"
for _ in 1 2 3 4 5; do req ip.demo.localhost --interface 127.0.0.2 -b "$RUN/ip2.txt" -c "$RUN/ip2.txt"; done
first="$(req ip.demo.localhost --interface 127.0.0.2 -b "$RUN/ip2.txt" | cut -d' ' -f2)"
for i in $(seq 3 40); do
  other="$(req ip.demo.localhost --interface "127.0.0.$i" | cut -d' ' -f2)"
  if [[ "$other" != "$first" ]]; then
    echo "-- client 127.0.0.$i lands elsewhere:"
    for _ in 1 2 3; do req ip.demo.localhost --interface "127.0.0.$i" -b "$RUN/ip$i.txt" -c "$RUN/ip$i.txt"; done
    break
  fi
done
echo

echo "== Header affinity (StickyPolicy type Header, X-User-Id) =="
echo "-- X-User-Id: alice, five requests from different cookie jars:"
for n in 1 2 3 4 5; do req header.demo.localhost -H "X-User-Id: alice"; done
echo "-- X-User-Id: bob:"
for n in 1 2 3; do req header.demo.localhost -H "X-User-Id: bob"; done
echo

cat <<EOT
sticky-ingress is serving on http://127.0.0.1:$PORT  (readiness: http://127.0.0.1:$HEALTH/readyz,
metrics: http://127.0.0.1:$((HEALTH - 1))/metrics). Try:

  curl -b jar -c jar --connect-to ::127.0.0.1:$PORT http://cookie.demo.localhost/
  curl --interface 127.0.0.7 --connect-to ::127.0.0.1:$PORT http://ip.demo.localhost/
  curl -H 'X-User-Id: carol' --connect-to ::127.0.0.1:$PORT http://header.demo.localhost/

Edit hack/demo/ingress.yaml, policy.yaml or services.yaml (e.g. remove a backend from an
EndpointSlice, or set sticky-ingress.io/fallback: strict); sticky-ingress reloads them
within a second. Logs: $RUN/sticky-ingress.log. Press Ctrl-C to stop.
EOT

if [[ "${DEMO_EXIT:-}" == 1 ]]; then exit 0; fi
wait
