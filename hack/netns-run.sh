#!/usr/bin/env bash
# Runs a command inside a private network namespace where all of 198.18.0.0/16 is local
# (the API server refuses loopback addresses in EndpointSlices, so backends and test
# clients take addresses from this benchmarking range). No packet can leave it.
set -euo pipefail
if [[ "${STICKY_IN_NETNS:-}" != 1 ]]; then
  exec unshare --net -- env STICKY_IN_NETNS=1 "$0" "$@"
fi
ip link set lo up
ip route add local 198.18.0.0/16 dev lo
exec "$@"
