#!/usr/bin/env bash
# `make bench`: sticky-ingress side by side with nginx, HAProxy and Caddy, on this
# machine, in one run. Three backends on loopback (demo-backend --stateless, which
# allocates nothing per request: a backend's collector pauses would set every proxy's
# tail alike and hide the proxies' own); every proxy configured for
# equivalent cookie stickiness and source-IP hashing (configs in hack/bench/); wrk with
# a valid sticky cookie, without one, with one over HTTPS (a self-signed certificate,
# keep-alive: the steady state of TLS, not handshakes), and for source-IP hashing;
# direct-to-backend as the ceiling; hack/gofloor (the least a goroutine-per-connection
# Go proxy can do) as Go's floor, hack/evfloor (the same work on an epoll event
# loop, as nginx and HAProxy are built) as the event-loop floor, and hack/uringfloor
# (that loop on io_uring: a system call per turn, not per read and write) as the
# io_uring floor. Runs alternate
# between proxies, and every peer's run is bracketed by two of sticky-ingress's:
# a round is sticky, peer, sticky, peer, … sticky, the peers in the next order each
# round. A peer's ratio in a round is its run against the geometric mean of the two
# beside it, which cancels the machine's drift across those seconds as far as it is
# steady (this virtual machine's speed drifts by a third within minutes, and two
# identical proxies in adjacent runs still differ by 3% in req/s); the ratio shown
# is the median over rounds. Short runs, many of them: measured with two identical
# proxies, runs of 1 s and of 3 s differ alike from their neighbours in req/s, so
# more rounds of shorter runs judge a ratio better; but each run opens its 64
# connections afresh, and in runs of 1 s over HTTPS their handshakes, not the
# steady state, set the tail. So six rounds of 2 s. A p99 is taken over every
# request of the runs compared, pooled (hack/benchstats), as one stall of the machine
# sets a short run's own p99. Medians are reported. Every proxy is warmed up first,
# with the same load, and every run but sticky-ingress's is preceded by BENCH_WARM of
# the same load, unmeasured: sticky-ingress runs every few seconds and the peers once
# a round, and a proxy that has idled for a round serves its next seconds worse
# (without it the twin's p99 came out 3-10% above ours). With it a peer has just been
# loaded when its run starts, and sticky-ingress was last loaded three seconds before
# its own: if anything, that favours the peers. Each proxy's CPU time per request is
# measured too, and the user-space part of it: where wrk, the backends and the proxy
# share the machine, it is what decides throughput, and it drifts less than req/s;
# the kernel's part (the same socket calls for every proxy) is the rest. So is the
# machine's idle share during each run: time in which wrk, the backends and the proxy
# all waited, which costs requests as surely as CPU time does.
#
# sticky-ingress runs with --workers 2, as nginx runs worker_processes 2 and HAProxy
# nbthread 2 (hack/bench/); BENCH_WORKERS=1 measures the single process instead.
#
# The first peer, "twin", is sticky-ingress again: the same binary, flags and cookie
# key on other ports, bracketed like every peer. Its ratios are the
# benchmark's own noise in that run (1.00x would be none): how far two identical
# proxies measured this way differ, and so how much of a peer's ratio is to be
# believed. BENCH_PEERS="nginx haproxy caddy" leaves it out.
#
# Every run of every round is also written, in the order run, to BENCH_ROUNDS_FILE
# (bin/bench-rounds.tsv): the medians hide how the machine drifted within a round.
# Each run's latency quantiles go to bench-quantiles.tsv beside it.
#
#   BENCH_DURATION=2s BENCH_WARM=1s BENCH_ROUNDS=6 BENCH_CONNECTIONS=64 BENCH_THREADS=1 BENCH_WORKERS=2 make bench
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${BENCH_DURATION:-2s}"
WARM="${BENCH_WARM:-1s}"
ROUNDS="${BENCH_ROUNDS:-6}"
CONNS="${BENCH_CONNECTIONS:-64}"
THREADS="${BENCH_THREADS:-1}"
WORKERS="${BENCH_WORKERS:-2}"
PEERS="${BENCH_PEERS:-twin nginx haproxy caddy}"
ROUNDS_FILE="${BENCH_ROUNDS_FILE:-bin/bench-rounds.tsv}"
QUANTILES_FILE="$(dirname "$ROUNDS_FILE")/bench-quantiles.tsv"
# shellcheck source=hack/benchlib.sh
source hack/benchlib.sh
# shellcheck source=hack/benchstats/benchstats.sh
source hack/benchstats/benchstats.sh

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v openssl >/dev/null || missing+=(openssl)
for p in $PEERS; do
  case "$p" in
    nginx) command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light) ;;
    haproxy) command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || missing+=(haproxy) ;;
    caddy) command -v caddy >/dev/null || missing+=(caddy) ;;
  esac
done
if ((${#missing[@]})); then
  echo "bench: installing ${missing[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
  # Debian starts the packaged services on :80; the benchmark runs its own.
  for s in nginx haproxy caddy; do service "$s" stop >/dev/null 2>&1 || true; done
fi
export PATH="$PATH:/usr/sbin"

go build -o bin/demo-backend ./hack/demo-backend
go build -o bin/gofloor ./hack/gofloor
go build -o bin/evfloor ./hack/evfloor
go build -o bin/uringfloor ./hack/uringfloor
FLOORS="floor evfloor uringfloor"
start_backends
declare -A PID # proxy -> the process whose CPU time (with its children's) is its own

# Ports: cookie mode, source-IP mode, cookie mode over HTTPS.
declare -A COOKIE_PORT=([sticky]=18080 [twin]=19080 [nginx]=18181 [haproxy]=18281 [caddy]=18381 [direct]=9100 [floor]=18480 [evfloor]=18580 [uringfloor]=18680)
declare -A IP_PORT=([sticky]=18080 [twin]=19080 [nginx]=18182 [haproxy]=18282 [caddy]=18382 [direct]=9100)
declare -A TLS_PORT=([sticky]=18443 [twin]=19443 [nginx]=18183 [haproxy]=18283 [caddy]=18383)

# ours proxy: whether it is sticky-ingress (the one measured, or its twin), which
# routes by Host: cookie.bench and ip.bench (hack/bench/), where the peers take any.
ours() { [[ "$1" == sticky || "$1" == twin ]]; }

render() { # template peer -> file
  sed -e "s#@RUN@#$RUN#g" -e "s#@COOKIE_PORT@#${COOKIE_PORT[$2]}#g" -e "s#@IP_PORT@#${IP_PORT[$2]}#g" \
    -e "s#@TLS_PORT@#${TLS_PORT[$2]}#g" "$1" >"$3"
}

# The peers' certificate (sticky-ingress serves its default one): ECDSA P-256, as
# sticky-ingress's default certificate is.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=bench.test \
  -keyout "$RUN/bench.key" -out "$RUN/bench.crt" >/dev/null 2>&1
cat "$RUN/bench.crt" "$RUN/bench.key" >"$RUN/bench.pem"

start_sticky bin/sticky-ingress --workers "$WORKERS"
PID[sticky]=$STICKY_PID
# The floors stand beside the pinned runs (cookie-hit), so they have the one backend
# a pinned session has: app-1, which every proxy's cookie pins to (issued_cookie).
bin/gofloor 127.0.0.1:18480 127.0.0.21:9100 >"$RUN/gofloor.log" 2>&1 &
pids+=($!); PID[floor]=$!
bin/evfloor 127.0.0.1:18580 127.0.0.21:9100 >"$RUN/evfloor.log" 2>&1 &
pids+=($!); PID[evfloor]=$!
bin/uringfloor 127.0.0.1:18680 127.0.0.21:9100 >"$RUN/uringfloor.log" 2>&1 &
pids+=($!); PID[uringfloor]=$!
for p in $PEERS; do
  case "$p" in
    twin)
      start_sticky_at 19000 bin/sticky-ingress --workers "$WORKERS"
      PID[twin]=$STICKY_PID ;;
    nginx)
      mkdir -p "$RUN"/nginx-{body,proxy,fastcgi,uwsgi,scgi}
      render hack/bench/nginx.conf nginx "$RUN/nginx.conf"
      nginx -e "$RUN/nginx-error.log" -c "$RUN/nginx.conf" -g 'daemon off;' >"$RUN/nginx.log" 2>&1 &
      pids+=($!); PID[nginx]=$! ;;
    haproxy)
      render hack/bench/haproxy.cfg haproxy "$RUN/haproxy.cfg"
      haproxy -f "$RUN/haproxy.cfg" >"$RUN/haproxy.log" 2>&1 &
      pids+=($!); PID[haproxy]=$! ;;
    caddy)
      render hack/bench/Caddyfile caddy "$RUN/Caddyfile"
      HOME="$RUN" XDG_DATA_HOME="$RUN" XDG_CONFIG_HOME="$RUN" caddy run --adapter caddyfile --config "$RUN/Caddyfile" >"$RUN/caddy.log" 2>&1 &
      pids+=($!); PID[caddy]=$! ;;
  esac
done

wait_up sticky-ingress http://127.0.0.1:18080/ cookie.bench
if ! kill -0 "${PID[uringfloor]}" 2>/dev/null; then # io_uring disabled here, or a kernel before 6.1
  echo "bench: the io_uring floor is left out: $(cat "$RUN/uringfloor.log")"
  FLOORS="floor evfloor"
  unset 'PID[uringfloor]'
fi
for p in $PEERS $FLOORS; do
  host=x; ours "$p" && host=cookie.bench
  wait_up "$p" "http://127.0.0.1:${COOKIE_PORT[$p]}/" "$host"
done
for p in "${!PID[@]}"; do alive "$p" "${PID[$p]}"; done
for b in "${backends[@]}"; do alive "a backend" "$b"; done

declare -A COOKIE
for p in sticky $PEERS; do
  host=x; ours "$p" && host=cookie.bench
  COOKIE[$p]="$(issued_cookie "http://127.0.0.1:${COOKIE_PORT[$p]}/" "$host")"
  [[ -n "${COOKIE[$p]}" ]] || { echo "bench: $p issued no affinity cookie"; exit 1; }
done

# run_wrk proxy scenario -> "reqs p50ms p99ms errors cpu-us-per-request user-us-per-request
# machine-idle-%"; run_wrk proxy scenario duration: the same load for that long, as a
# warm-up, unmeasured and silent.
run_wrk() {
  local p="$1" scenario="$2" warm="${3:-}" port host=x args=()
  local scheme=http
  case "$scenario" in
    cookie-hit) port="${COOKIE_PORT[$p]}"; args=(-H "Cookie: ${COOKIE[$p]:-none=1}") ;;
    cookie-hit-tls) port="${TLS_PORT[$p]}"; scheme=https; args=(-H "Cookie: ${COOKIE[$p]:-none=1}") ;;
    cookie-new) port="${COOKIE_PORT[$p]}" ;;
    source-ip)  port="${IP_PORT[$p]}" ;;
  esac
  if ours "$p"; then
    [[ "$scenario" == source-ip ]] && host=ip.bench || host=cookie.bench
  fi
  local ip=127.0.0.1
  [[ "$p" == direct ]] && ip=127.0.0.21 # the ceiling: one backend, no proxy
  if [[ -n "$warm" ]]; then
    wrk -t"$THREADS" -c"$CONNS" -d"$warm" -H "Host: $host" "${args[@]}" "$scheme://$ip:$port/" >/dev/null 2>&1 || true
    return
  fi
  measured_wrk "${PID[$p]:-}" -t"$THREADS" -c"$CONNS" -d"$DURATION" -s hack/bench/latency.lua \
    -H "Host: $host" "${args[@]}" "$scheme://$ip:$port/"
}

# rotated round name... -> the names, starting one further along each round: every
# peer takes every place in the order, so none always runs first after a switch of
# scenario, and none always follows the same peer's bracket.
rotated() {
  local round="$1"; shift
  local names=("$@") s=$(( (round - 1) % $# ))
  echo "${names[@]:s}" "${names[@]:0:s}"
}

# bracketed round peer... -> one round's runs: sticky-ingress before and after each peer.
bracketed() {
  local round="$1" p; shift
  for p in $(rotated "$round" "$@"); do printf 'sticky %s ' "$p"; done
  echo sticky
}

# The first seconds of a process's load cost more (Go's heap and pools growing,
# goroutine stacks, connections to the backends): every proxy gets the same warm-up.
for p in sticky $PEERS $FLOORS; do run_wrk "$p" cookie-hit 2s; done

echo "bench: wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds, each peer bracketed by sticky-ingress, medians shown; $(nproc) cores; sticky-ingress --workers $WORKERS"
mkdir -p "$(dirname "$ROUNDS_FILE")"
printf 'run\tscenario\tround\tproxy\treq/s\tp50 ms\tp99 ms\tcpu µs\tuser µs\tidle %%\n' >"$ROUNDS_FILE"
printf 'run\tpercent\tµs\n' >"$QUANTILES_FILE"
printf '\n%-14s %-17s %10s %9s %9s %10s %10s %8s %8s %7s\n' scenario proxy "req/s" "p50 ms" "p99 ms" "us/peer" "p99 ratio" "cpu µs" "user µs" "idle %"
run=0
for scenario in cookie-hit cookie-new cookie-hit-tls source-ip; do
  declare -A R=() P50=() CPU=() USR=() IDLE=()
  for round in $(seq 1 "$ROUNDS"); do
    for p in $(bracketed "$round" $PEERS) $FLOORS direct; do
      [[ " $FLOORS direct " == *" $p "* && "$scenario" != cookie-hit ]] && continue
      [[ "$p" != sticky ]] && run_wrk "$p" "$scenario" "$WARM"
      read -r reqs p50 p99 errs cpu usr idle < <(run_wrk "$p" "$scenario")
      run=$((run + 1))
      R[$p]+="$reqs "; P50[$p]+="$p50 "; CPU[$p]+="$cpu "; USR[$p]+="$usr "; IDLE[$p]+="$idle "
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$scenario" "$round" "$p" "$reqs" "$p50" "$p99" "$cpu" "$usr" "$idle" >>"$ROUNDS_FILE"
      awk -v run="$run" '$1 == "quantile" { print run "\t" $2 "\t" $3 }' "$RUN/wrk.out" >>"$QUANTILES_FILE"
      [[ "$errs" == errors ]] && echo "bench: $p $scenario round $round had errors: $(grep -E 'Non-2xx|Socket' "$RUN/wrk.out")" >&2
    done
  done
  for p in sticky $PEERS $FLOORS direct; do
    [[ -z "${R[$p]:-}" ]] && continue
    r="$(median_of "${R[$p]}")"
    p50="$(median_of "${P50[$p]}")"
    p99="$(pooled_p99 $(runs_of "$scenario" "$p"))"
    cpu="$(median_of "${CPU[$p]}")"
    usr="$(median_of "${USR[$p]}")"
    idle="$(median_of "${IDLE[$p]}")"
    ratio="-"; pratio="-"
    if [[ " $PEERS " == *" $p "* ]]; then
      ratio="$(bracket_ratio "$scenario" "$p" "$COL_REQS" | awk '{ printf "%.2fx", $1 }')"
      pratio="$(bracket_p99_ratio "$scenario" "$p" | awk '{ printf "%.2fx", $1 }')"
    fi
    case "$p" in
      sticky) name=sticky-ingress ;; twin) name="twin (noise)" ;; direct) name="direct (ceiling)" ;;
      floor) name="Go floor" ;; evfloor) name="event-loop floor" ;; uringfloor) name="io_uring floor" ;;
      *) name="$p" ;;
    esac
    printf '%-14s %-17s %10s %9s %9s %10s %10s %8s %8s %7s\n' "$scenario" "$name" "$r" "$p50" "$p99" "$ratio" "$pratio" "$cpu" "$usr" "$idle"
  done
  unset R P50 CPU USR IDLE
done
echo
echo "us/peer: sticky-ingress req/s in the runs just before and after the peer's (their geometric mean) divided by the peer's, the median over rounds (>1: we are faster)."
[[ " $PEERS " == *" twin "* ]] && echo "twin: sticky-ingress again (same build, flags, key), measured as a peer: its ratios are this run's noise, 1.00x would be none."
echo "p99: over every request of the proxy's runs in the scenario, pooled; p99 ratio: ours over the runs just before and after the peer's, pooled, divided by the peer's (<1: our tail is shorter)."
echo "cpu µs: the proxy's CPU time (user and system, workers included) per request; user µs: its user-space part."
echo "idle %: the share of the machine's time (both cores) that nothing ran during the run: wrk, the backends and the proxy all waited."
echo "Go floor: hack/gofloor, which only copies heads between sockets (no headers added, no affinity), a goroutine per connection."
echo "event-loop floor: hack/evfloor, the same work on one epoll loop per core, as nginx and HAProxy do it."
echo "io_uring floor: hack/uringfloor, that loop on io_uring, one system call a turn for all its reads and writes."
echo "Pinned runs, the floors and the ceiling all load one backend, app-1: every proxy's cookie pins there."
echo "Every run of every round, in the order run: $ROUNDS_FILE"
