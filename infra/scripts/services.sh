#!/usr/bin/env bash
# Vireo's own processes on the local stack: the silos (one per role by default), the sink and the results API.
#   services.sh up      migrate the database, then start whatever is not running (idempotent)
#   services.sh down    stop them
#   services.sh status  say what runs where
# VIREO_SILOS lists the silos as name:role+role, e.g. "all:media+vision+language" for a single process.
# VIREO_SILO_MODEL, when set, is the checkpoint the silos load instead of the stack's (VIREO_MODEL).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

VIREO_SILOS=${VIREO_SILOS:-"media:media vision:vision language:language"}
run_dir=$VIREO_STATE/run
bin() { echo "$VIREO_ROOT/$1/bin/$VIREO_CONFIGURATION/net10.0/$2"; }

[[ -f $VIREO_STATE/stack.env ]] || fail "the stack is not up (./vireo up)"
# shellcheck disable=SC1091
source "$VIREO_STATE/stack.env"

ready() { curl -fsS -o /dev/null --max-time 2 "$(cat "$1")/readyz"; }

# Starts a process with its health endpoints on a free port, written to run/NAME.url, and waits until /readyz says 200.
start() { # name dll [env...]
  local name=$1 dll=$2; shift 2
  local pid=$run_dir/$name.pid url=$run_dir/$name.url log=$VIREO_LOGS/$name.log
  if pid_alive "$pid"; then say "$name already running (pid $(cat "$pid"), $(cat "$url" 2>/dev/null))"; return; fi
  [[ -f $dll ]] || fail "$dll is missing: build first (./vireo build)"
  mkdir -p "$run_dir" "$VIREO_LOGS"
  rm -f "$url"
  mark_start "$log" "$name"
  # umask 077: what the services write (downloads, URL files, span files) is their owner's alone.
  (cd "$VIREO_STATE" || exit 1; umask 077; env "Http__Port=0" "Http__UrlFile=$url" "$@" setsid dotnet "$dll" >>"$log" 2>&1 </dev/null & echo $! >"$pid")
  local deadline=$((SECONDS + VIREO_START_TIMEOUT))
  until [[ -f $url ]] && ready "$url" 2>/dev/null; do
    if ! pid_alive "$pid"; then tail -n 30 "$log" >&2; fail "$name exited while starting (log: $log)"; fi
    if ((SECONDS >= deadline)); then tail -n 30 "$log" >&2; fail "$name was not ready within ${VIREO_START_TIMEOUT}s (log: $log)"; fi
    sleep 0.2
  done
  say "$name ready at $(cat "$url") (pid $(cat "$pid"), log $log)"
}

stop() { stop_pid "$run_dir/$1.pid" "$1"; rm -f "$run_dir/$1.url"; }

up() {
  dotnet "$(bin services/Vireo.Cli vireo.dll)" migrate
  # Uploads are private to the user the services run as; a folder made by an older checkout is tightened too.
  mkdir -p "$Pipeline__MediaRoot"
  chmod 700 "$Pipeline__MediaRoot"
  for spec in $VIREO_SILOS; do
    local name=${spec%%:*} roles=${spec#*:}
    start "silo-$name" "$(bin services/Vireo.Silo Vireo.Silo.dll)" \
      "Silo__Roles=${roles//+/,}" "Silo__Name=$name" "Workers__ModelPath=${VIREO_SILO_MODEL:-$Workers__ModelPath}"
  done
  start sink "$(bin services/Vireo.Sink Vireo.Sink.dll)"
  start api "$(bin services/Vireo.Api Vireo.Api.dll)"
}

down() {
  stop api
  stop sink
  for f in "$run_dir"/silo-*.pid; do [[ -f $f ]] && stop "$(basename "$f" .pid)"; done
  return 0
}

status() {
  for f in "$run_dir"/*.pid; do
    [[ -f $f ]] || continue
    local name; name=$(basename "$f" .pid)
    local url; url=$(cat "$run_dir/$name.url" 2>/dev/null || echo "-")
    if ! pid_alive "$f"; then printf '%-16s stopped\n' "$name"
    elif [[ $url != - ]] && ready "$run_dir/$name.url" 2>/dev/null; then printf '%-16s ready    %s (pid %s)\n' "$name" "$url" "$(cat "$f")"
    else printf '%-16s running  %s (pid %s, not ready)\n' "$name" "$url" "$(cat "$f")"; fi
  done
}

case ${1:-status} in
  up) up ;;
  down) down ;;
  status) status ;;
  *) fail "usage: services.sh up|down|status" ;;
esac
