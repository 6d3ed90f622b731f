# What every bench script shares: the keyflowd to measure, Debian tools installed when
# missing, the bench's own PostgreSQL cluster (.local/bench, through scripts/lib/pg.sh, fsync
# on as in scripts/run), the embedded broker, a keyflowd serve, stopping all of it on exit,
# and the result lines bench/run gathers into bench/results.md.
#
# Source it after scripts/lib/common.sh and scripts/lib/pg.sh. It sets `work` (a scratch
# directory, kept with BENCH_KEEP=1), `keyflowd`, and on bench_start_pg `conninfo`, psql_admin
# and q. Processes started with `&` are stopped on exit once passed to bench_track, the last
# first; a script with processes of its own to stop first defines bench_before_exit.

bench_dir="$KEYFLOW_ROOT/.local/bench"
mkdir -p "$bench_dir"
# shellcheck disable=SC2034  # read by pg.sh's functions
PG_DATA="$bench_dir/pg"
# shellcheck disable=SC2034
PG_LOG="$bench_dir/postgresql.log"
PG_SOCKET_DIR="$bench_dir/pg-socket"
PG_DB_NAME=keyflow_bench
work="$(mktemp -d)"
chmod 0755 "$work" # the cluster's owner (another user when run as root) reads pgbench scripts
PATH="$PATH:/usr/sbin" # nginx

# --- keyflowd: KEYFLOWD, else build/release (built when missing), else build/test --------
if [[ -n "${KEYFLOWD:-}" ]]; then
  keyflowd="$KEYFLOWD"
else
  bench_build_dir="$KEYFLOW_ROOT/build/release"
  if [[ ! -f "$bench_build_dir/build.ninja" && -f "$KEYFLOW_ROOT/build/test/build.ninja" ]]; then
    bench_build_dir="$KEYFLOW_ROOT/build/test"
  fi
  if [[ ! -f "$bench_build_dir/build.ninja" ]]; then
    ensure_deps
    log "building keyflowd (Release) in build/release"
    configure_build "$bench_build_dir" Release -DKEYFLOW_BUILD_TESTS=OFF
  fi
  if [[ "$bench_build_dir" == */build/test ]]; then
    # Not while a scripts/test uses that tree (its lock, released once keyflowd is up to date).
    exec 8>"$bench_build_dir/.scripts-test.lock"
    if ! flock --nonblock 8; then
      log "waiting for the scripts/test running in build/test"
      flock 8
    fi
    build "$bench_build_dir" keyflowd >/dev/null
    exec 8>&-
  else
    build "$bench_build_dir" keyflowd >/dev/null
  fi
  keyflowd="$bench_build_dir/keyflowd/keyflowd"
fi

# A tool from Debian: installed when missing and run as root (as scripts/lib/install-deps
# installs the build's), else named.
need() { # need <command> <Debian package>
  command -v "$1" >/dev/null && return 0
  ((EUID == 0)) || die "$1 is missing (Debian package $2)"
  log "installing $2 (Debian package)"
  local apt=(apt-get -q -o Dpkg::Use-Pty=0)
  export DEBIAN_FRONTEND=noninteractive
  # Without package lists (a fresh machine) the first try fails; then update and try again.
  if ! "${apt[@]}" install -y --no-install-recommends "$2" >"$work/apt.log" 2>&1; then
    if ! "${apt[@]}" update >>"$work/apt.log" 2>&1 ||
      ! "${apt[@]}" install -y --no-install-recommends "$2" >>"$work/apt.log" 2>&1; then
      die "apt-get install $2 failed: $(tail -3 "$work/apt.log")"
    fi
  fi
  command -v "$1" >/dev/null || die "$1 is missing after installing $2"
}
pgbench="$(pg_bindir)/pgbench"
psql_bin="$(pg_bindir)/psql"

# --- stopping what we started --------------------------------------------------------------
bench_pids=()
bench_pg_started=""
bench_track() { bench_pids+=("$@"); }
# shellcheck disable=SC2317  # called by the EXIT trap
bench_cleanup() {
  local status=$? i
  trap - EXIT
  set +e
  declare -F bench_before_exit >/dev/null && bench_before_exit
  for ((i = ${#bench_pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${bench_pids[i]}" 2>/dev/null && wait "${bench_pids[i]}" 2>/dev/null
  done
  [[ -n "$bench_pg_started" ]] && pg_stop
  if [[ -n "${BENCH_KEEP:-}" ]]; then log "kept $work"; else rm -rf "$work"; fi
  exit "$status"
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- PostgreSQL: the cluster, a new database, keyflow's schema -----------------------------
bench_start_pg() {
  pg_prepare_user
  pg_init
  bench_pg_started=1
  pg_start
  conninfo="$(pg_conninfo)"
  psql_admin --dbname=postgres -c "DROP DATABASE IF EXISTS $PG_DB_NAME" -c "CREATE DATABASE $PG_DB_NAME"
  KEYFLOW_DATABASE_URL="$conninfo" "$keyflowd" migrate 2>/dev/null
}
psql_admin() {
  as_pg_user "$psql_bin" --no-psqlrc --quiet --no-align --tuples-only -v ON_ERROR_STOP=1 \
    --host="$PG_SOCKET_DIR" --port="$PG_PORT" --username="$PG_DB_USER" "$@"
}
q() { psql_admin --dbname="$PG_DB_NAME" -c "$1"; }

# --- keyflowd's processes --------------------------------------------------------------------
# The embedded broker, shared by every role: sets `bootstrap`.
bench_start_broker() {
  log "starting keyflowd broker"
  KEYFLOW_KAFKA_BROKERS=embedded KEYFLOW_LOG_LEVEL=warn "$keyflowd" broker >"$work/broker.out" 2>"$work/broker.log" &
  bench_track $!
  for _ in $(seq 100); do
    grep -q '^kafka bootstrap ' "$work/broker.out" && break
    sleep 0.1
  done
  bootstrap="$(sed -n 's/^kafka bootstrap //p' "$work/broker.out")"
  [[ -n "$bootstrap" ]] || die "keyflowd broker did not report its address"
}
# A keyflowd serve on a free loopback port, with the environment exported before: sets
# `api_port` and `serve_pid`.
bench_start_serve() { # bench_start_serve [<name of its log files>]
  local name="${1:-serve}"
  KEYFLOW_HTTP_ADDR=127.0.0.1:0 "$keyflowd" serve >"$work/$name.out" 2>"$work/$name.log" &
  serve_pid=$!
  bench_track "$serve_pid"
  for _ in $(seq 100); do
    grep -q '^http listening on ' "$work/$name.out" && break
    sleep 0.1
  done
  api_port="$(sed -n 's/^http listening on .*://p' "$work/$name.out")"
  [[ -n "$api_port" ]] || die "keyflowd serve did not start: $(tail -3 "$work/$name.log")"
}
# The API as the admin: POST <path> <body> (curl's -f: fails on 4xx and 5xx).
api() { curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "http://127.0.0.1:$api_port$1" -d "$2"; }
api_delete() { curl -sf -X DELETE -H "Authorization: Bearer $token" "http://127.0.0.1:$api_port$1"; }

# A free loopback port (bound by nobody at the moment of asking).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# shellcheck source=results.sh
source "$KEYFLOW_ROOT/bench/lib/results.sh"
