#!/usr/bin/env bash
# Runs the public HTTP caching suite (http-tests/cache-tests) against `lacquer serve` with its
# defaults, using the shared driver in ../shared/tools/conformance/run.sh.
#
# Usage: scripts/conformance.sh CACHE_TESTS_DIR [OUT.json]
#   CACHE_TESTS_DIR: a work tree of http-tests/cache-tests with `npm install --omit=dev` done
# Ports: origin $ORIGIN_PORT (18000: the suite's own server), Lacquer $LACQUER_PORT (18080, admin off).
# Stops only what it started.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CT_DIR="${1:?usage: scripts/conformance.sh CACHE_TESTS_DIR [OUT.json]}"
OUT="${2:-/tmp/lacquer-cache-tests.json}"
RUN="${CONFORMANCE_RUN:-$HERE/../shared/tools/conformance/run.sh}"
ORIGIN_PORT="${ORIGIN_PORT:-18000}"
LACQUER_PORT="${LACQUER_PORT:-18080}"
[ -x "$RUN" ] || { echo "error: $RUN not found (set CONFORMANCE_RUN)" >&2; exit 2; }
[ -f "$HERE/dist/src/cli/main.js" ] || (cd "$HERE" && npm run build >/dev/null)
node "$HERE/dist/src/cli/main.js" serve --origin http://127.0.0.1:$ORIGIN_PORT --listen 127.0.0.1:$LACQUER_PORT --no-admin --log-level error &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -s -o /dev/null --max-time 1 http://127.0.0.1:$LACQUER_PORT/ && break; sleep 0.1; done
"$RUN" -s -o "$OUT" "$CT_DIR" http://127.0.0.1:$LACQUER_PORT $ORIGIN_PORT
