# Sourced by hack/bench.sh: its figures, read back from the files it writes as it runs.
#
# ROUNDS_FILE has a line per wrk run, in the order run: run, scenario, round, proxy,
# req/s, p50 ms, p99 ms, cpu µs, user µs, idle %. QUANTILES_FILE has a line per
# quantile of each run (hack/bench/latency.lua): run, percent, µs.

# The req/s column of ROUNDS_FILE.
COL_REQS=5

# brackets scenario peer -> "before peer after" per run of the peer in the scenario:
# its run number and those of sticky-ingress's runs just before and just after it.
brackets() {
  awk -F'\t' -v scenario="$1" -v peer="$2" '
    $2 != scenario { next }
    $4 == "sticky" { if (waiting != "" && before != "") print before, waiting, $1; before = $1; waiting = ""; next }
    $4 == peer { waiting = $1; next }
    { waiting = "" }
  ' "$ROUNDS_FILE"
}

# bracket_ratio scenario peer column -> the median over the peer's runs of
# sticky-ingress's figure in that column over the peer's, sticky-ingress's being the
# geometric mean of its runs just before and just after: what drifts steadily across
# the three runs cancels.
bracket_ratio() {
  brackets "$1" "$2" | awk -v col="$3" '
    FNR == NR { v[$1] = $col; next }
    v[$1] > 0 && v[$2] > 0 && v[$3] > 0 { print sqrt(v[$1] * v[$3]) / v[$2] }
  ' FS='\t' "$ROUNDS_FILE" FS=' ' - | median
}

# runs_of scenario proxy -> the run numbers of the proxy's runs in the scenario.
runs_of() { awk -F'\t' -v scenario="$1" -v proxy="$2" '$2 == scenario && $4 == proxy { print $1 }' "$ROUNDS_FILE"; }

# pooled_p99 run... -> the p99 in ms of every request those runs served together: each
# run's quantiles (a step function below each one, so a little high, alike for all)
# weighted by its requests, swept in order of latency until 99% is passed. A run's
# own p99 is set by whether the machine stalled in its second; over many runs the
# stalls weigh as often as they come.
pooled_p99() {
  awk -v runs="$*" '
    BEGIN { n = split(runs, r, " "); for (i = 1; i <= n; i++) want[r[i]] = 1 }
    FNR == NR { if ($1 in want) weight[$1] = $'"$COL_REQS"'; next }
    ($1 in want) && weight[$1] > 0 { print $3, $2, $1, weight[$1] }
  ' FS='\t' "$ROUNDS_FILE" "$QUANTILES_FILE" | sort -n -k1,1 -k2,2 | awk '
    { us[NR] = $1; pct[NR] = $2; run[NR] = $3; w[NR] = $4; if (!($3 in seen)) { seen[$3] = 1; total += $4 } }
    END {
      for (i = 1; i <= NR; i++) {
        below += w[i] * (pct[i] - at[run[i]]) / 100; at[run[i]] = pct[i]
        if (below >= 0.99 * total) { printf "%.3f\n", us[i] / 1000; exit }
      }
    }'
}

# bracket_p99_ratio scenario peer -> sticky-ingress's p99 over its runs just beside the
# peer's, divided by the peer's p99 over its runs, both pooled.
bracket_p99_ratio() {
  local runs ours theirs
  runs="$(brackets "$1" "$2")"
  ours="$(pooled_p99 $(awk '{ print $1; print $3 }' <<<"$runs" | sort -un))"
  theirs="$(pooled_p99 $(awk '{ print $2 }' <<<"$runs"))"
  awk -v a="$ours" -v b="$theirs" 'BEGIN { if (b > 0) print a / b }'
}
