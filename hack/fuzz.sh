#!/usr/bin/env bash
# Runs every `func FuzzXxx` in the module for a short time each (default 5s), so the
# seed corpora are exercised and a little new ground is covered on every `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-5s}"
count=0

# run_target pkg name [fuzztime] prints the last lines of a clean run, everything of a
# failed one.
run_target() {
  local out
  if out="$(go test -run='^$' -fuzz="^${2}\$" -fuzztime="${3:-$fuzztime}" "$1" 2>&1)"; then
    tail -n 2 <<<"$out"
  else
    printf '%s\n' "$out"
    return 1
  fi
}
while IFS=: read -r file _ match; do
  name="$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"$match")"
  pkg="./$(dirname "$file")"
  echo "fuzz: $pkg $name for $fuzztime"
  if ! run_target "$pkg" "$name"; then
    # A failing input is written to testdata/fuzz/<name>/: that is a real finding. A
    # failure that wrote none ("context deadline exceeded") is the fuzzing engine
    # itself: in Go 1.26 the end of a -fuzztime duration races the workers' shutdown
    # (golang/go#75804, fixed in 1.27), more often on a loaded machine. The target runs
    # once more for a number of executions, which sets no deadline to race.
    if [[ -n "$(git status --porcelain -- "$pkg/testdata/fuzz/$name" 2>/dev/null)" ]]; then
      echo "fuzz: $name found a failing input (kept in $pkg/testdata/fuzz/$name)" >&2
      exit 1
    fi
    echo "fuzz: $name failed without a failing input (golang/go#75804); running it again for 10000 executions" >&2
    run_target "$pkg" "$name" 10000x || exit 1
  fi
  count=$((count+1))
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . | sort)
echo "fuzz: $count targets ran clean"
