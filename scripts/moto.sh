#!/usr/bin/env bash
# Starts or stops moto in server mode on 127.0.0.1 for the AWS integration tests.
# Usage: scripts/moto.sh start|stop|port
#   start  installs moto into .cache/venv-moto (pinned in scripts/requirements-moto.txt; idempotent),
#          starts moto_server on a free port, waits until it answers, enables Step Functions
#          execution (POST /moto-api/config) and writes .cache/moto.pid and .cache/moto.port.
#          It prints the endpoint (http://127.0.0.1:PORT). Already running: prints it again.
#   stop   stops the server started by `start` (by its recorded pid) and removes the files.
#   port   prints the port of the running server.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/venv-moto
pidfile=.cache/moto.pid
portfile=.cache/moto.port
logfile=.cache/moto.log

running() {
  [ -f "$pidfile" ] && [ -f "$portfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
  if running; then echo "http://127.0.0.1:$(cat "$portfile")"; return 0; fi
  mkdir -p .cache
  scripts/python-env.sh scripts/requirements-moto.txt "$venv" >&2
  local port pid i
  port=$(free_port)
  # setsid: the server gets a process group of its own, so stopping it never touches the caller's group.
  # scripts/moto_server.py is moto_server with Step Functions' Batch integration repaired (see its header);
  # MOTO_PORT tells moto's state-machine interpreter where to call the server's own services.
  MOTO_PORT="$port" setsid "$venv/bin/python" scripts/moto_server.py -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 < /dev/null &
  pid=$!
  echo "$pid" > "$pidfile"
  echo "$port" > "$portfile"
  for i in $(seq 1 1200); do  # at least 120 s: a loaded machine imports moto slowly
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/moto-api/" 2>/dev/null; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "moto.sh: moto_server exited while starting; log:" >&2; cat "$logfile" >&2
      rm -f "$pidfile" "$portfile"; return 1
    fi
    sleep 0.1
  done
  if ! curl -fsS -o /dev/null "http://127.0.0.1:$port/moto-api/"; then
    echo "moto.sh: moto_server did not answer on 127.0.0.1:$port within 120 s; log:" >&2; cat "$logfile" >&2
    stop; return 1
  fi
  curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
    -d '{"stepfunctions": {"execute_state_machine": true}, "batch": {"use_docker": false}}' \
    "http://127.0.0.1:$port/moto-api/config"
  echo "http://127.0.0.1:$port"
}

stop() {
  if [ -f "$pidfile" ]; then
    local pid
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile" "$portfile"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  port) running && cat "$portfile" || { echo "moto.sh: not running" >&2; exit 1; } ;;
  *) echo "usage: scripts/moto.sh start|stop|port" >&2; exit 2 ;;
esac
