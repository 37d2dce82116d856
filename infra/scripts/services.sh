#!/usr/bin/env bash
# Vireo's own processes on the local stack: the silos (one per role by default) and the sink.
#   services.sh up      migrate the database, then start whatever is not running (idempotent)
#   services.sh down    stop them
#   services.sh status  say what runs where
# VIREO_SILOS lists the silos as name:role+role, e.g. "all:media+vision+language" for a single process.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

VIREO_SILOS=${VIREO_SILOS:-"media:media vision:vision language:language"}
run_dir=$VIREO_STATE/run
bin() { echo "$VIREO_ROOT/$1/bin/$VIREO_CONFIGURATION/net10.0/$2"; }

[[ -f $VIREO_STATE/stack.env ]] || fail "the stack is not up (./vireo up)"
# shellcheck disable=SC1091
source "$VIREO_STATE/stack.env"

start() { # name log-ready-pattern dll [env...]
  local name=$1 ready=$2 dll=$3; shift 3
  local pid=$run_dir/$name.pid log=$VIREO_LOGS/$name.log
  if pid_alive "$pid"; then say "$name already running (pid $(cat "$pid"))"; return; fi
  [[ -f $dll ]] || fail "$dll is missing: build first (./vireo build)"
  mkdir -p "$run_dir"
  : >"$log"
  (cd "$VIREO_STATE" || exit 1; env "$@" setsid dotnet "$dll" >"$log" 2>&1 </dev/null & echo $! >"$pid")
  local deadline=$((SECONDS + VIREO_START_TIMEOUT))
  until grep -q "$ready" "$log"; do
    if ! pid_alive "$pid"; then tail -n 30 "$log" >&2; fail "$name exited while starting (log: $log)"; fi
    if ((SECONDS >= deadline)); then tail -n 30 "$log" >&2; fail "$name did not start within ${VIREO_START_TIMEOUT}s (log: $log)"; fi
    sleep 0.2
  done
  say "$name running (pid $(cat "$pid"), log $log)"
}

stop() { stop_pid "$run_dir/$1.pid" "$1"; }

up() {
  dotnet "$(bin services/Vireo.Cli vireo.dll)" migrate
  mkdir -p "$Pipeline__MediaRoot"
  for spec in $VIREO_SILOS; do
    local name=${spec%%:*} roles=${spec#*:}
    start "silo-$name" "Vireo silo ready" "$(bin services/Vireo.Silo Vireo.Silo.dll)" \
      "Silo__Roles=${roles//+/,}" "Silo__Name=$name"
  done
  start sink "Sink consuming" "$(bin services/Vireo.Sink Vireo.Sink.dll)"
}

down() {
  stop sink
  for f in "$run_dir"/silo-*.pid; do [[ -f $f ]] && stop "$(basename "$f" .pid)"; done
  return 0
}

status() {
  for f in "$run_dir"/*.pid; do
    [[ -f $f ]] || continue
    local name; name=$(basename "$f" .pid)
    if pid_alive "$f"; then printf '%-16s running (pid %s)\n' "$name" "$(cat "$f")"; else printf '%-16s stopped\n' "$name"; fi
  done
}

case ${1:-status} in
  up) up ;;
  down) down ;;
  status) status ;;
  *) fail "usage: services.sh up|down|status" ;;
esac
