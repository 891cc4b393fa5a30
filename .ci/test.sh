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
# --unstable-net lets the tests cover the optional Deno.listenDatagram UDP back end too; the
# library default (node:dgram) needs no unstable flag.
step deno test -A --unstable-net --doc
