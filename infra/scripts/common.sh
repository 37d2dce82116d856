# Shared settings of the local stack; sourced by the other scripts.
# Every value can be overridden from the environment before a command runs.
set -euo pipefail

VIREO_ROOT=${VIREO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
VIREO_STATE=${VIREO_STATE:-$VIREO_ROOT/.state}
VIREO_LOGS=$VIREO_STATE/logs
VIREO_PG_PORT=${VIREO_PG_PORT:-55432}
VIREO_REDIS_PORT=${VIREO_REDIS_PORT:-56379}
VIREO_CONFIGURATION=${VIREO_CONFIGURATION:-Release}
VIREO_START_TIMEOUT=${VIREO_START_TIMEOUT:-60}
VIREO_PG_BIN=${VIREO_PG_BIN:-/usr/lib/postgresql/15/bin}
VIREO_BOOTSTRAP_FILE=$VIREO_STATE/kafka/bootstrap
VIREO_MODEL=${VIREO_MODEL:-$VIREO_ROOT/grains/Vireo.Model/checkpoints/vireo-small}

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

say() { printf '[vireo] %s\n' "$*"; }
fail() { printf '[vireo] error: %s\n' "$*" >&2; exit 1; }

# Prints the process listening on a TCP port of 127.0.0.1, or nothing when the port is free.
port_owner() {
  ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\("[^"]*"\).*/\1/p' | head -1
}

port_in_use() { [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }

# Waits until a command succeeds or the timeout passes; prints the log tail on failure.
wait_for() {
  local what=$1 log=$2; shift 2
  local deadline=$((SECONDS + VIREO_START_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      [[ -f $log ]] && tail -n 20 "$log" >&2
      fail "$what did not come up within ${VIREO_START_TIMEOUT}s (log: $log)"
    fi
    sleep 0.2
  done
}

pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Stops the process of a pid file: SIGTERM, up to 10 s to exit, then SIGKILL. Removes the file.
stop_pid() {
  local file=$1 name=$2
  if pid_alive "$file"; then
    local p; p=$(cat "$file")
    kill "$p"
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
    say "$name stopped"
  fi
  rm -f "$file"
}

# Writes stdin to a file only its owner can read. The content goes to a temporary file that mktemp creates with mode
# 600 and is then renamed over the target, so there is no moment when a secret sits in a readable file, and an older
# copy of mode 644 is replaced rather than rewritten in place.
write_private() {
  local target=$1 tmp
  tmp=$(mktemp "$target.XXXXXX")
  cat >"$tmp" && mv -f "$tmp" "$target" || { rm -f "$tmp"; return 1; }
}

# Appends a line marking a new start to a log: a restarted process keeps what its previous run wrote.
mark_start() { printf -- '----- %s starting %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$2" >>"$1"; }

# Passwords are made once per checkout and kept in the state folder (never committed).
load_secrets() {
  local file=$VIREO_STATE/secrets.env
  mkdir -p "$VIREO_STATE"
  if [[ ! -f $file ]]; then
    write_private "$file" <<SECRETS
VIREO_PG_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
VIREO_REDIS_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
SECRETS
  fi
  # A file left by an older checkout may still be readable by others.
  chmod 600 "$file"
  # shellcheck disable=SC1090
  source "$file"
}

# The environment every Vireo process and test reads its endpoints from. It holds the passwords of the application's
# Postgres role and of Redis, so only its owner may read it.
write_stack_env() {
  load_secrets
  local bootstrap=""
  [[ -f $VIREO_BOOTSTRAP_FILE ]] && bootstrap=$(cat "$VIREO_BOOTSTRAP_FILE")
  write_private "$VIREO_STATE/stack.env" <<ENV
export ConnectionStrings__Postgres='Host=127.0.0.1;Port=$VIREO_PG_PORT;Username=vireo;Password=$VIREO_PG_PASSWORD;Database=vireo'
export ConnectionStrings__Redis='127.0.0.1:$VIREO_REDIS_PORT,password=$VIREO_REDIS_PASSWORD'
export Kafka__BootstrapServers='$bootstrap'
export Kafka__BootstrapFile='$VIREO_BOOTSTRAP_FILE'
export Pipeline__MediaRoot='$VIREO_STATE/media'
export Blobs__Kind='folder'
export Blobs__Root='$VIREO_STATE/blobs'
export Workers__ModelPath='$VIREO_MODEL'
export VIREO_STATE='$VIREO_STATE'
ENV
}
