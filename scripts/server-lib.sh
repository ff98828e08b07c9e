# Shared by scripts/qdrant.sh and scripts/llama-server.sh (sourced, not run): a free loopback
# port, waiting for a started server, and stopping it. Each server's folder DIR holds `pid`
# (the server's own process id) and its log.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_ready NAME URL DIR LOG TRIES: poll URL every 0.1 s until it answers 2xx; fail early, with
# the log's tail, if the process in DIR/pid exits.
wait_ready() {
  local name="$1" url="$2" dir="$3" log="$4" tries="$5"
  for _ in $(seq 1 "$tries"); do
    if python3 - "$url" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=1)
PY
    then
      return 0
    fi
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || { echo "$name exited; log:" >&2; tail -20 "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "$name not ready after $((tries / 10)) s; log:" >&2; tail -20 "$log" >&2; return 1
}

# stop_server DIR: SIGTERM the process in DIR/pid, wait up to 10 s, then SIGKILL.
stop_server() {
  local dir="$1" pid
  [ -f "$dir/pid" ] || return 0
  pid="$(cat "$dir/pid")"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
