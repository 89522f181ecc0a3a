#!/usr/bin/env bash
# Runs every `func FuzzXxx` in the module for a short time each (default 5s), so the
# seed corpora are exercised and a little new ground is covered on every `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-5s}"
count=0
while IFS=: read -r file _ match; do
  name="$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"$match")"
  pkg="./$(dirname "$file")"
  echo "fuzz: $pkg $name for $fuzztime"
  go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$pkg" | tail -n 2
  count=$((count+1))
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . | sort)
echo "fuzz: $count targets ran clean"
