#!/usr/bin/env bash
# A Qdrant server for tests, benchmarks and trying the server backend, on loopback only.
#
#   scripts/qdrant.sh binary          print the path of a qdrant binary (QDRANT_BIN, or unpacked
#                                     from the team folder's tools/qdrant into ~/.cache), or fail
#   scripts/qdrant.sh start DIR       start one node in DIR (storage, log, pid) on free ports, in
#                                     cluster mode (a one-node cluster: custom shard keys work),
#                                     telemetry off; wait until ready; write DIR/env with
#                                     QDRANT_URL (gRPC) and QDRANT_HTTP; print QDRANT_URL
#   scripts/qdrant.sh stop DIR        SIGTERM the node started in DIR and wait for it
#
# Users with their own server (binary, container or Qdrant Cloud) skip this and set QDRANT_URL
# (and QDRANT_API_KEY) themselves; see the retrieval-core chapter of the book.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/server-lib.sh
. "$root/scripts/server-lib.sh"
version=1.18.3

binary() {
  if [ -n "${QDRANT_BIN:-}" ]; then
    [ -x "$QDRANT_BIN" ] || { echo "QDRANT_BIN=$QDRANT_BIN is not executable" >&2; return 1; }
    echo "$QDRANT_BIN"; return 0
  fi
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/genai-roadmap/qdrant-$version"
  if [ -x "$cache/qdrant" ]; then echo "$cache/qdrant"; return 0; fi
  local tools="$root/../shared/tools/qdrant"
  [ -x "$tools/unpack.sh" ] || { echo "no qdrant binary: set QDRANT_BIN (or QDRANT_URL for a running server)" >&2; return 1; }
  command -v xz >/dev/null || { echo "xz is needed to unpack qdrant (Debian package xz-utils)" >&2; return 1; }
  "$tools/unpack.sh" "$cache" >/dev/null
  echo "$cache/qdrant"
}

start() {
  local dir="$1" bin http grpc p2p
  bin="$(binary)"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  http="$(free_port)"; grpc="$(free_port)"; p2p="$(free_port)"
  # Its own working directory, so no stray config/ folder is read. `exec` makes the recorded pid
  # Qdrant's own, and every descriptor is redirected: a background job that kept this script's
  # stdout open would hang a caller reading it with $(...) until the server stopped.
  (cd "$dir" && exec env QDRANT__TELEMETRY_DISABLED=true QDRANT__SERVICE__HOST=127.0.0.1 \
     QDRANT__SERVICE__HTTP_PORT="$http" QDRANT__SERVICE__GRPC_PORT="$grpc" \
     QDRANT__CLUSTER__ENABLED=true QDRANT__CLUSTER__P2P__PORT="$p2p" \
     QDRANT__STORAGE__STORAGE_PATH="$dir/storage" QDRANT__STORAGE__SNAPSHOTS_PATH="$dir/snapshots" \
     QDRANT__LOG_LEVEL=WARN \
     "$bin" --uri "http://127.0.0.1:$p2p") </dev/null >"$dir/qdrant.log" 2>&1 &
  echo $! >"$dir/pid"
  wait_ready qdrant "http://127.0.0.1:$http/readyz" "$dir" "$dir/qdrant.log" 300
  printf 'QDRANT_URL=http://127.0.0.1:%s\nQDRANT_HTTP=http://127.0.0.1:%s\n' "$grpc" "$http" >"$dir/env"
  echo "http://127.0.0.1:$grpc"
}

stop() { stop_server "$1"; }

case "${1:-}" in
  binary) binary ;;
  start) start "${2:?usage: qdrant.sh start DIR}" ;;
  stop) stop "${2:?usage: qdrant.sh stop DIR}" ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac
