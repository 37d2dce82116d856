#!/usr/bin/env bash
# The local stack: PostgreSQL, Redis and the Kafka-protocol dev broker, on loopback, with state under .state/.
#   stack.sh up      start whatever is not running (idempotent)
#   stack.sh down    stop everything this checkout started
#   stack.sh status  say what runs where
#   stack.sh start postgres|redis / stack.sh stop postgres|redis   one part alone (the chaos benchmark's faults)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

pg_data=$VIREO_STATE/postgres/data
redis_dir=$VIREO_STATE/redis
kafka_pid=$VIREO_STATE/kafka/devkafka.pid

as_postgres() { runuser -u postgres -- "$@"; }

# PostgreSQL refuses to run as root; its data must be reachable by the postgres user. When the checkout lies
# under a folder that user cannot enter (a home folder of mode 700, say), the data lives in /var/lib/vireo
# and the state folder links to it.
prepare_pg_data() {
  mkdir -p -m 755 "$VIREO_STATE/postgres"
  [[ -e $pg_data ]] && return
  if as_postgres test -x "$VIREO_STATE/postgres" 2>/dev/null; then
    mkdir -p "$pg_data"
  else
    local outside
    outside=/var/lib/vireo/$(printf '%s' "$VIREO_STATE" | sha1sum | cut -c1-12)/data
    mkdir -p "$outside"
    ln -s "$outside" "$pg_data"
  fi
  chown postgres:postgres "$(readlink -f "$pg_data")"
  chmod 700 "$(readlink -f "$pg_data")"
}

pg_running() { [[ -f $pg_data/postmaster.pid ]] && as_postgres "$VIREO_PG_BIN/pg_ctl" -D "$pg_data" status >/dev/null 2>&1; }
pg_ready() { PGPASSWORD=$VIREO_PG_PASSWORD psql -h 127.0.0.1 -p "$VIREO_PG_PORT" -U vireo -d vireo -tAc 'select 1' | grep -q 1; }

# The superuser is the postgres role, with no password: it logs in only through a Unix socket inside the data
# directory (mode 700, owned by the postgres user), by peer authentication. The application role vireo logs in over
# TCP with its password and owns its database, which is all the migrations need.
pg_socket_dir() { readlink -f "$pg_data"; }
as_superuser() { as_postgres psql -h "$(pg_socket_dir)" -p "$VIREO_PG_PORT" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

# Creates or corrects the application role and its database on every start. CREATEDB lets the tests make and drop
# databases of their own; the role is neither a superuser nor able to create roles. The password goes through
# stdin, not the command line, where other users could read it.
ensure_application_role() {
  as_superuser -d postgres >/dev/null <<SQL
select format('create role vireo login password %L', '$VIREO_PG_PASSWORD')
  where not exists (select from pg_roles where rolname = 'vireo') \gexec
alter role vireo with login nosuperuser createdb nocreaterole noreplication nobypassrls password '$VIREO_PG_PASSWORD';
select 'create database vireo owner vireo' where not exists (select from pg_database where datname = 'vireo') \gexec
alter database vireo owner to vireo;
SQL
}

# Data directories made before the superuser and the application role were apart have vireo as their bootstrap
# superuser, which cannot be demoted.
pg_made_by_older_vireo() { [[ -f $pg_data/PG_VERSION ]] && ! grep -q "^unix_socket_directories = '/" "$pg_data/postgresql.conf"; }

start_postgres() {
  if pg_made_by_older_vireo; then
    fail "$(pg_socket_dir) was made by an older Vireo whose vireo role is a superuser; stop the stack (./vireo down) and delete that folder (its data goes with it) to recreate it"
  fi
  if pg_running; then say "postgres already running on 127.0.0.1:$VIREO_PG_PORT"; return; fi
  port_in_use "$VIREO_PG_PORT" && fail "port $VIREO_PG_PORT is taken by $(port_owner "$VIREO_PG_PORT"); set VIREO_PG_PORT to a free port"
  prepare_pg_data
  local log=$VIREO_LOGS/postgres.log
  touch "$log"; chown postgres:postgres "$log"
  if [[ ! -f $pg_data/PG_VERSION ]]; then
    say "initialising PostgreSQL in $pg_data"
    as_postgres "$VIREO_PG_BIN/initdb" -D "$pg_data" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >>"$log" 2>&1 || { tail -n 20 "$log" >&2; fail "initdb failed (log: $log)"; }
    cat >>"$pg_data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$(pg_socket_dir)'
max_connections = 200
shared_buffers = 128MB
fsync = on
CONF
  fi
  as_postgres "$VIREO_PG_BIN/pg_ctl" -D "$pg_data" -o "-p $VIREO_PG_PORT" -l "$log" -w -t "$VIREO_START_TIMEOUT" start >/dev/null \
    || { tail -n 20 "$log" >&2; fail "postgres did not start (log: $log)"; }
  ensure_application_role || fail "could not set up the vireo role and database (log: $log)"
  wait_for postgres "$log" pg_ready
  say "postgres on 127.0.0.1:$VIREO_PG_PORT (user vireo, database vireo)"
}

stop_postgres() {
  if pg_running; then
    as_postgres "$VIREO_PG_BIN/pg_ctl" -D "$pg_data" -m fast -w stop >/dev/null && say "postgres stopped"
  fi
}

redis_ready() { redis-cli -h 127.0.0.1 -p "$VIREO_REDIS_PORT" --no-auth-warning -a "$VIREO_REDIS_PASSWORD" ping | grep -q PONG; }

start_redis() {
  if pid_alive "$redis_dir/redis.pid"; then say "redis already running on 127.0.0.1:$VIREO_REDIS_PORT"; return; fi
  port_in_use "$VIREO_REDIS_PORT" && fail "port $VIREO_REDIS_PORT is taken by $(port_owner "$VIREO_REDIS_PORT"); set VIREO_REDIS_PORT to a free port"
  mkdir -p -m 700 "$redis_dir"
  local conf=$redis_dir/redis.conf log=$VIREO_LOGS/redis.log
  write_private "$conf" <<CONF
bind 127.0.0.1
port $VIREO_REDIS_PORT
protected-mode yes
requirepass $VIREO_REDIS_PASSWORD
daemonize yes
pidfile $redis_dir/redis.pid
logfile $log
dir $redis_dir
appendonly yes
CONF
  redis-server "$conf" || fail "redis-server did not start (log: $log)"
  wait_for redis "$log" redis_ready
  say "redis on 127.0.0.1:$VIREO_REDIS_PORT"
}

stop_redis() {
  if pid_alive "$redis_dir/redis.pid"; then
    redis-cli -h 127.0.0.1 -p "$VIREO_REDIS_PORT" --no-auth-warning -a "$VIREO_REDIS_PASSWORD" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$redis_dir/redis.pid")"
    say "redis stopped"
  fi
}

kafka_ready() { [[ -s $VIREO_BOOTSTRAP_FILE ]] && exec 3<>"/dev/tcp/${1%:*}/${1##*:}"; }

start_kafka() {
  if pid_alive "$kafka_pid"; then say "kafka dev broker already running at $(cat "$VIREO_BOOTSTRAP_FILE" 2>/dev/null)"; return; fi
  local dll=$VIREO_ROOT/infra/Vireo.DevKafka/bin/$VIREO_CONFIGURATION/net10.0/Vireo.DevKafka.dll
  [[ -f $dll ]] || fail "$dll is missing: build the solution first (./vireo build)"
  mkdir -p "$(dirname "$kafka_pid")"
  rm -f "$VIREO_BOOTSTRAP_FILE"
  local log=$VIREO_LOGS/devkafka.log
  mark_start "$log" "kafka dev broker"
  (cd "$VIREO_STATE" || exit 1; setsid dotnet "$dll" --DevKafka:BootstrapFile="$VIREO_BOOTSTRAP_FILE" >>"$log" 2>&1 </dev/null & echo $! >"$kafka_pid")
  wait_for "kafka dev broker" "$log" test -s "$VIREO_BOOTSTRAP_FILE"
  local address
  address=$(cut -d, -f1 "$VIREO_BOOTSTRAP_FILE")
  wait_for "kafka dev broker" "$log" kafka_ready "$address"
  say "kafka dev broker at $(cat "$VIREO_BOOTSTRAP_FILE")"
}

stop_kafka() {
  stop_pid "$kafka_pid" "kafka dev broker"
  rm -f "$VIREO_BOOTSTRAP_FILE"
}

status() {
  local state
  if pg_running; then state="running on 127.0.0.1:$VIREO_PG_PORT, data $pg_data"; else state="stopped"; fi
  printf '%-12s %s\n' postgres "$state"
  if pid_alive "$redis_dir/redis.pid"; then state="running on 127.0.0.1:$VIREO_REDIS_PORT (pid $(cat "$redis_dir/redis.pid"))"; else state="stopped"; fi
  printf '%-12s %s\n' redis "$state"
  if pid_alive "$kafka_pid"; then state="running at $(cat "$VIREO_BOOTSTRAP_FILE" 2>/dev/null) (pid $(cat "$kafka_pid"))"; else state="stopped"; fi
  printf '%-12s %s\n' kafka "$state"
  printf '%-12s %s\n' logs "$VIREO_LOGS"
  printf '%-12s %s\n' environment "$VIREO_STATE/stack.env"
}

load_secrets
mkdir -p "$VIREO_LOGS"
case ${1:-status} in
  up) start_postgres; start_redis; start_kafka; write_stack_env; say "stack is up; endpoints in $VIREO_STATE/stack.env" ;;
  down) stop_kafka; stop_redis; stop_postgres ;;
  status) status ;;
  start|stop)
    case ${2:-} in
      postgres|redis) "$1_$2" ;;
      *) fail "usage: stack.sh $1 postgres|redis" ;;
    esac ;;
  *) fail "usage: stack.sh up|down|status|start NAME|stop NAME" ;;
esac
