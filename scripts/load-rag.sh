#!/usr/bin/env bash
# Load benchmark of the production RAG service (a command, not a CI step): builds the release
# binary, ingests the load corpus from the team's public datasets (paths are arguments; nothing
# is copied), serves it on loopback and drives it with wrk (Debian package `wrk`, installed if
# missing): 32 connections, 2 threads, DURATION seconds per mode.
#
#   scripts/load-rag.sh [DATA_DIR] [DURATION]     DATA_DIR defaults to ../shared/data
#
# Modes: `miss` (a different question each request, cache skipped: the whole pipeline) and `hit`
# (one question, served by the exact cache); with LOAD_RAG_MODEL set, also `model` (see below). Prints throughput and p50/p95/p99 per mode, and the
# error count (non-2xx and socket errors). The corpus and the index are kept in
# target/load-rag between runs (delete it to re-ingest).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/server-lib.sh
. "$root/scripts/server-lib.sh"
data="${1:-$root/../shared/data}"
duration="${2:-20}"
work="$root/target/load-rag"
mkdir -p "$work"
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
# LOAD_RAG_PROFILE=debug measures the test build instead (no release compile; slower code).
profile="${LOAD_RAG_PROFILE:-release}"
flag=(); [ "$profile" = release ] && flag=(--release)
# The workspace's feature set (selecting one package with -p resolves features anew and, in a
# target folder the tests built, recompiles much of the dependency graph).
cargo build "${flag[@]}" --locked --workspace --bins --example mock-openai
bin="${CARGO_TARGET_DIR:-$root/target}/$profile/production-rag"
export PRODUCTION_RAG_DATA_DIR="$work/data"
if [ ! -f "$work/questions.jsonl" ]; then
  "$bin" load-corpus --scifact "$data/beir-scifact" --squad "$data/squad-dev-even/squad-dev-even.json" \
    --hotpot "$data/hotpotqa-dev-subset/hotpot_dev_distractor_v1.public250.json" \
    --hotpot "$data/hotpotqa-dev-subset/hotpot_dev_distractor_v1.first103.json" \
    --paws "$data/paws-wiki/dev.tsv" --questions-out "$work/questions.jsonl"
fi
port="$(free_port)"
RUST_LOG=warn "$bin" serve --addr "127.0.0.1:$port" >"$work/server.log" 2>&1 &
echo $! >"$work/pid"
trap 'stop_server "$work"' EXIT
wait_ready production-rag "http://127.0.0.1:$port/readyz" "$work" "$work/server.log" 600

cat >"$work/load.lua" <<'LUA'
-- MODE=miss: the next question each request, cache skipped; MODE=hit: one cached question.
local mode = os.getenv("MODE")
local questions = {}
for line in io.lines(os.getenv("QUESTIONS")) do questions[#questions + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i + 1
  if mode == "hit" then
    return wrk.format(nil, "/v1/query", nil, '{"query": ' .. questions[1] .. '}')
  end
  local q = questions[(i % #questions) + 1]
  return wrk.format(nil, "/v1/query", nil, '{"query": ' .. q .. ', "no_cache": true}')
end
done = function(summary, latency)
  local e = summary.errors
  io.write(string.format("%s: %d requests in %.1f s = %.0f req/s; p50 %.2f ms, p95 %.2f ms, p99 %.2f ms; errors: %d socket, %d non-2xx status\n",
    mode, summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3,
    e.connect + e.read + e.write + e.timeout, e.status))
end
LUA
# Warm the hit mode's entry (and the page cache) before measuring.
curl -s -o /dev/null -H 'content-type: application/json' \
  -d "{\"query\": $(head -1 "$work/questions.jsonl")}" "http://127.0.0.1:$port/v1/query"
for mode in miss hit; do
  MODE=$mode QUESTIONS="$work/questions.jsonl" wrk -t2 -c32 -d"${duration}s" --timeout 10s -s "$work/load.lua" \
    "http://127.0.0.1:$port" | tail -1
done
[ -n "${LOAD_RAG_MODEL:-}" ] || exit 0

# Mode `model`: the same misses answered by a model with a hosted model's pace (the mock server
# as a process: LOAD_RAG_MODEL="TTFT_MS TOKENS_PER_SEC ANSWER_TOKENS", e.g. "300 50 60").
# End-to-end latency comes from wrk; time to first token from the server's own histogram.
stop_server "$work"
read -r ttft rate tokens <<<"$LOAD_RAG_MODEL"
mkdir -p "$work/mock"
"${CARGO_TARGET_DIR:-$root/target}/$profile/examples/mock-openai" "$ttft" "$rate" "$tokens" >"$work/mock/url" &
echo $! >"$work/mock/pid"
trap 'stop_server "$work"; stop_server "$work/mock"' EXIT
for _ in $(seq 1 100); do [ -s "$work/mock/url" ] && break; sleep 0.1; done
port="$(free_port)"
OPENAI_BASE_URL="$(head -1 "$work/mock/url")" OPENAI_MODEL=mock-model RUST_LOG=warn \
  "$bin" serve --addr "127.0.0.1:$port" >"$work/server.log" 2>&1 &
echo $! >"$work/pid"
wait_ready production-rag "http://127.0.0.1:$port/readyz" "$work" "$work/server.log" 600
echo "model: first token after ${ttft} ms, ${rate} tokens/s, ${tokens} tokens per answer"
MODE=miss QUESTIONS="$work/questions.jsonl" wrk -t2 -c32 -d"${duration}s" --timeout 10s -s "$work/load.lua" \
  "http://127.0.0.1:$port" | tail -1
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^rag_first_token_seconds\{quantile="0\.(5|95|99)"\}' |
  awk -F'[="}]+' '{ printf "first token p%g: %.1f ms\n", $2 * 100, $3 * 1000 }'
