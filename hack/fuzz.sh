#!/usr/bin/env bash
# Runs every `func FuzzXxx` in the module for a short time each (default 5s), so the
# seed corpora are exercised and a little new ground is covered on every `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-5s}"
count=0

# run_target prints the last lines of a clean run, everything of a failed one.
run_target() {
  local out
  if out="$(go test -run='^$' -fuzz="^${2}\$" -fuzztime="$fuzztime" "$1" 2>&1)"; then
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
    # failure that wrote none is the fuzzing engine itself (a worker lost near the end
    # of -fuzztime, seen on a loaded machine): the target runs once more.
    if [[ -n "$(git status --porcelain -- "$pkg/testdata/fuzz/$name" 2>/dev/null)" ]]; then
      echo "fuzz: $name found a failing input (kept in $pkg/testdata/fuzz/$name)" >&2
      exit 1
    fi
    echo "fuzz: $name failed without a failing input; running it once more" >&2
    run_target "$pkg" "$name" || exit 1
  fi
  count=$((count+1))
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . | sort)
echo "fuzz: $count targets ran clean"
