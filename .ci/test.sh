#!/usr/bin/env bash
# The full test command behind `deno task test`: every step must pass, in this order.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { echo "== $*"; "$@"; }
step deno fmt --check
step deno lint
step deno check .
step deno doc --lint mod.ts
step deno publish --dry-run --allow-dirty
# --unstable-net (also in deno.json): sipkit's UDP transport uses Deno.listenDatagram when it is
# available and node:dgram otherwise; the tests cover both back ends.
step deno test -A --unstable-net --doc
