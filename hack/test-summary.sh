#!/usr/bin/env bash
# Passes `go test -v` output through and ends with one plain line that counts the
# suite's top-level and sub-tests: "<suite>: N passed, N failed".
#
# With --quiet, what passing tests print (=== RUN, --- PASS, their t.Log lines) is
# left out, so a suite of hundreds of tests shows its packages, its failures with
# their logs, and the count.
suite="${1:-tests}"
quiet=false
[[ "${2:-}" == --quiet ]] && quiet=true
pass=0 fail=0 skip=0
held=() # a quiet run's indented log lines, until a test's verdict says whether to show them
while IFS= read -r line; do
  case "$line" in
    *"--- PASS:"*) pass=$((pass+1)) ;;
    *"--- FAIL:"*) fail=$((fail+1)) ;;
    *"--- SKIP:"*) skip=$((skip+1)) ;;
  esac
  if $quiet; then
    case "$line" in
      "=== RUN"* | "=== PAUSE"* | "=== CONT"* | "=== NAME"* | PASS) continue ;;
      *"--- PASS:"* | *"--- SKIP:"*) held=(); continue ;;
      *"--- FAIL:"*) printf '%s\n' "${held[@]}"; held=() ;;
      "    "*) held+=("$line"); continue ;;
    esac
  fi
  printf '%s\n' "$line"
done
((${#held[@]})) && printf '%s\n' "${held[@]}"
echo "$suite: $pass passed, $fail failed, $skip skipped"
