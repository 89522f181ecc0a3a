# Shared by hack/bench.sh and hack/ab.sh (sourced from the repository's root): the
# run's scratch directory RUN (its *.log files are shown on failure), what to stop on
# exit (pids; backends among them), the benchmark's backends, the sticky-ingress it
# measures, how a process's CPU time and the machine's idle share are read, and how a
# run's figures are taken.

RUN="$(mktemp -d)"
pids=()
backends=()

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$RUN"
}
trap cleanup EXIT INT TERM

# start_backends: the three stateless demo backends on 127.0.0.21-23:9100, which
# allocate nothing per request (hack/demo-backend/stateless.go).
start_backends() {
  local i
  for i in 1 2 3; do
    bin/demo-backend --stateless --listen "127.0.0.2$i:9100" --name "app-$i" >"$RUN/backend-$i.log" 2>&1 &
    pids+=($!); backends+=($!)
  done
}

# start_sticky binary [flag...] -> STICKY_PID: sticky-ingress on the bench manifests,
# HTTP on 18080 and HTTPS on 18443, with a cookie key of its own (made once per RUN).
start_sticky() { start_sticky_at 18000 "$@"; }

# start_sticky_at base binary [flag...]: start_sticky on the ports base+80 (HTTP),
# base+443 (HTTPS), base+98 (metrics) and base+99 (health), with the same cookie key:
# a second one (bench.sh's twin) takes the first one's cookies.
start_sticky_at() {
  local base="$1"
  shift
  [[ -s "$RUN/cookie-keys" ]] || head -c 32 /dev/urandom | base64 >"$RUN/cookie-keys"
  "$1" --manifests hack/bench --cookie-key-file "$RUN/cookie-keys" \
    --http-addr "127.0.0.1:$((base + 80))" --https-addr "127.0.0.1:$((base + 443))" \
    --health-addr "127.0.0.1:$((base + 99))" --metrics-addr "127.0.0.1:$((base + 98))" \
    --zap-log-level error "${@:2}" >"$RUN/sticky-$base.log" 2>&1 &
  STICKY_PID=$!
  pids+=($STICKY_PID)
}

wait_up() { # name url host
  for _ in $(seq 1 100); do
    curl -fs -o /dev/null -H "Host: $3" "$2" && return 0
    sleep 0.1
  done
  echo "bench: $1 did not come up"; cat "$RUN"/*.log; exit 1
}

# A port taken by something else (a proxy or backend left over from an earlier run)
# answers wait_up while the process started here has exited: it would be measured
# instead.
alive() { # name pid
  kill -0 "$2" 2>/dev/null || { echo "bench: $1 exited (is its port taken?)"; cat "$RUN"/*.log; exit 1; }
}

# issued_cookie url host -> "Name=value" of an affinity cookie the proxy issues that
# pins to app-1 (127.0.0.21), the backend the direct ceiling and the floors use: so
# every pinned run loads the same backend process, whichever one a proxy picks first.
issued_cookie() {
  local answer
  for _ in $(seq 1 24); do
    answer="$(curl -si -H "Host: $2" "$1" | tr -d '\r')"
    [[ "$answer" == *"server: app-1"* ]] || continue
    awk -F'[:;] *' 'tolower($1)=="set-cookie" {print $2; exit}' <<<"$answer"
    return
  done
}

# cpu_ticks pid -> "user system" clock ticks of pid and its children (nginx's workers).
cpu_ticks() {
  local u=0 s=0 p t
  for p in "$1" $(pgrep -P "$1" || true); do
    read -r t < <(awk '{print $14, $15}' "/proc/$p/stat" 2>/dev/null || echo "0 0")
    u=$((u + ${t% *})); s=$((s + ${t#* }))
  done
  echo "$u $s"
}

# machine_ticks -> "busy idle": the whole machine's clock ticks so far, all cores
# (busy counts steal, idle counts iowait).
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }

# idle_share "busy idle" "busy idle" -> the percentage of the machine's time between two
# machine_ticks readings that no core had anything to run.
idle_share() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    split(a, x, " "); split(b, y, " "); busy = y[1] - x[1]; idle = y[2] - x[2]
    printf "%.1f", (busy + idle > 0) ? 100 * idle / (busy + idle) : 0
  }'
}

# wrk_figures wrk-output user-ticks system-ticks own idle -> "req/s p50-ms p99-ms errors
# cpu-µs user-µs idle-%" of one wrk --latency run; the CPU figures are per request, of
# the process whose ticks were counted ("-" when own is empty: nothing was measured),
# and idle (idle_share's) is passed through.
wrk_figures() {
  awk -v ticks="$(($2 + $3))" -v uticks="$2" -v hz="$(getconf CLK_TCK)" -v own="$4" -v idle="$5" '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /Requests\/sec:/ { r = $2 }
    / requests in / { n = $1 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx|Socket errors/ { err = err $0 " " }
    END {
      cpu = (own != "" && n > 0) ? sprintf("%.1f", ticks * 1e6 / hz / n) : "-"
      usr = (own != "" && n > 0) ? sprintf("%.1f", uticks * 1e6 / hz / n) : "-"
      printf "%.0f %.3f %.3f %s %s %s %s\n", r, p50, p99, (err == "" ? "-" : "errors"), cpu, usr, idle
    }
  ' "$1"
}

# measured_wrk own wrk-argument… -> wrk_figures of one wrk --latency run with those
# arguments (its output left in $RUN/wrk.out): CPU time counted for the process own and
# its children (nothing is counted when own is empty), and the machine's idle share.
measured_wrk() {
  local own="$1" t0="0 0" t1="0 0" m0 m1
  shift
  [[ -n "$own" ]] && t0="$(cpu_ticks "$own")"
  m0="$(machine_ticks)"
  wrk --latency "$@" >"$RUN/wrk.out" 2>&1 || true
  m1="$(machine_ticks)"
  [[ -n "$own" ]] && t1="$(cpu_ticks "$own")"
  wrk_figures "$RUN/wrk.out" "$((${t1% *} - ${t0% *}))" "$((${t1#* } - ${t0#* }))" "$own" "$(idle_share "$m0" "$m1")"
}

# median: the median of the numbers on standard input, one a line.
median() { sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }

# median_of "n1 n2 …" -> the median of a space-separated list.
median_of() { tr ' ' '\n' <<<"$1" | grep . | median; }
