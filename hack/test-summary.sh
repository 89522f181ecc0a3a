#!/usr/bin/env bash
# Passes `go test -v` output through and ends with one plain line that counts the
# suite's top-level and sub-tests: "<suite>: N passed, N failed".
suite="${1:-tests}"
pass=0 fail=0 skip=0
while IFS= read -r line; do
  printf '%s\n' "$line"
  case "$line" in
    *"--- PASS:"*) pass=$((pass+1)) ;;
    *"--- FAIL:"*) fail=$((fail+1)) ;;
    *"--- SKIP:"*) skip=$((skip+1)) ;;
  esac
done
echo "$suite: $pass passed, $fail failed, $skip skipped"
