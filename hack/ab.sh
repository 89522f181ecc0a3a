#!/usr/bin/env bash
# hack/ab.sh BIN_A BIN_B [SCENARIO]: an A/B of two sticky-ingress builds, the way we
# judge a change on a noisy machine. The two run in turn (A B, B A, …), each
# started afresh on the bench manifests (hack/bench), warmed up and then driven by
# wrk; every round's req/s, p99, CPU time per request and machine idle share are
# printed, then each build's medians. A drift of the machine hits both builds alike,
# and CPU per request drifts less than req/s: it is the figure to judge by.
#
#   git stash; go build -o /tmp/a ./cmd/sticky-ingress; git stash pop
#   go build -o /tmp/b ./cmd/sticky-ingress
#   AB_ROUNDS=4 hack/ab.sh /tmp/a /tmp/b cookie-hit
#
# SCENARIO: cookie-hit (the default), cookie-new, cookie-hit-tls or source-ip, as in
# `make bench`. AB_ROUNDS (3), AB_DURATION (5s), AB_CONNECTIONS (64); AB_WORKERS (2,
# as `make bench` runs us) and AB_ARGS (more flags) are given to both builds.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 2 ]] || { sed -n '2,16p' "$0"; exit 2; }
A="$1" B="$2" SCENARIO="${3:-cookie-hit}"
ROUNDS="${AB_ROUNDS:-3}" DURATION="${AB_DURATION:-5s}" CONNS="${AB_CONNECTIONS:-64}"
read -r -a FLAGS <<<"--workers ${AB_WORKERS:-2} ${AB_ARGS:-}"
command -v wrk >/dev/null || { echo "ab: wrk is missing (apt-get install wrk, or run make bench once)"; exit 1; }
host=cookie.bench url=http://127.0.0.1:18080/
case "$SCENARIO" in
  cookie-hit | cookie-new) ;;
  cookie-hit-tls) url=https://127.0.0.1:18443/ ;;
  source-ip) host=ip.bench ;;
  *) echo "ab: unknown scenario $SCENARIO"; exit 2 ;;
esac

# shellcheck source=hack/benchlib.sh
source hack/benchlib.sh
go build -o bin/demo-backend ./hack/demo-backend
start_backends

# measure binary -> measured_wrk's figures of one round.
measure() {
  start_sticky "$1" "${FLAGS[@]}"
  wait_up "$1" http://127.0.0.1:18080/ cookie.bench
  alive "$1" "$STICKY_PID"
  local args=()
  [[ "$SCENARIO" == cookie-hit* ]] && args=(-H "Cookie: $(issued_cookie http://127.0.0.1:18080/ cookie.bench)")
  wrk -t1 -c"$CONNS" -d2s -H "Host: $host" "${args[@]}" "$url" >/dev/null 2>&1 || true # warm-up
  measured_wrk "$STICKY_PID" -t1 -c"$CONNS" -d"$DURATION" -H "Host: $host" "${args[@]}" "$url"
  kill "$STICKY_PID"
  wait "$STICKY_PID" 2>/dev/null || true
}

echo "ab: $SCENARIO, wrk -t1 -c$CONNS -d$DURATION, $ROUNDS rounds; A=$A B=$B, both with ${FLAGS[*]}"
printf '%-5s %-3s %8s %8s %8s %8s %7s\n' round bin "req/s" "p99 ms" "cpu µs" "user µs" "idle %"
declare -A CPU=()
for round in $(seq 1 "$ROUNDS"); do
  order="A B"
  ((round % 2)) || order="B A" # A B, B A, A B, …: neither always runs first
  for bin in $order; do
    read -r r _ p99 _ cpu usr idle < <(measure "${!bin}")
    printf '%-5s %-3s %8s %8s %8s %8s %7s\n' "$round" "$bin" "$r" "$p99" "$cpu" "$usr" "$idle"
    CPU[$bin]+="$cpu "
  done
done
a="$(median_of "${CPU[A]}")"
b="$(median_of "${CPU[B]}")"
awk -v a="$a" -v b="$b" 'BEGIN { printf "median CPU µs per request: A %.1f, B %.1f (B/A %.3f)\n", a, b, b / a }'
