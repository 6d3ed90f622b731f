# Sourced by scripts/run: a private PostgreSQL cluster kept under .local/.
#
# The cluster listens only on a unix socket (no TCP port, so it cannot collide with
# another PostgreSQL on the machine), with trust authentication for local connections:
# the socket directory is mode 0700, so only its owner (and root) can connect at all.
# PostgreSQL refuses to run as root, so when scripts/run is root the cluster belongs to an
# unprivileged system user, $KEYFLOW_PG_USER (default keyflow), created when missing.
# shellcheck shell=bash

PG_DATA="$KEYFLOW_ROOT/.local/pg"
PG_LOG="$KEYFLOW_ROOT/.local/postgresql.log"
PG_PORT=5432 # names the socket file (.s.PGSQL.5432); nothing listens on TCP
PG_SOCKET_DIR="$KEYFLOW_ROOT/.local/pg-socket"
PG_DB_USER=keyflow
PG_DB_NAME=keyflow
PG_OS_USER="$(id -un)"

# as_pg_user <command...>: runs a command as the cluster's owner, from a directory that
# user can enter, without the lock descriptor (fd 9) so that a server left behind by a
# killed scripts/run never holds the lock.
as_pg_user() {
  if ((EUID == 0)); then
    (cd "$KEYFLOW_ROOT/.local" && exec 9>&- && exec runuser -u "$PG_OS_USER" -- "$@")
  else
    (cd "$KEYFLOW_ROOT/.local" && exec 9>&- && exec "$@")
  fi
}

# The newest installed server version, or the one the cluster was created with.
pg_bindir() {
  local version
  if [[ -f "$PG_DATA/PG_VERSION" ]]; then
    version="$(<"$PG_DATA/PG_VERSION")"
  else
    version="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' |
      awk -F/ '{print $5}' | sort -V | tail -1)"
    [[ -n "$version" ]] || die "no PostgreSQL server installed (/usr/lib/postgresql/*/bin/initdb)"
  fi
  local dir="/usr/lib/postgresql/$version/bin"
  [[ -x "$dir/postgres" ]] || die "PostgreSQL $version server binaries not found in $dir"
  echo "$dir"
}

# When root: the unprivileged owner of the cluster, and traverse rights for it on every
# directory above .local/ (a checkout under /root, mode 0700, is otherwise out of reach).
# Only the execute (search) bit is granted, through an ACL entry for that user alone.
pg_prepare_user() {
  ((EUID == 0)) || return 0
  PG_OS_USER="${KEYFLOW_PG_USER:-keyflow}"
  if ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
    log "creating system user $PG_OS_USER to own the PostgreSQL cluster"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin --comment "keyflow scripts/run PostgreSQL" "$PG_OS_USER"
  fi
  # Top-down, so that only the directories that actually block the way get an entry.
  local dir path="" granted=()
  local -a parts
  IFS=/ read -r -a parts <<<"${KEYFLOW_ROOT#/}/.local"
  for dir in "" "${parts[@]}"; do
    path="${path%/}/$dir"
    if ! runuser -u "$PG_OS_USER" -- test -x "$path"; then
      setfacl -m "u:$PG_OS_USER:x" "$path" ||
        die "cannot let $PG_OS_USER enter $path (no ACL support?); move the repository somewhere $PG_OS_USER can reach"
      granted+=("$path")
    fi
  done
  if ((${#granted[@]} > 0)); then
    log "granted $PG_OS_USER traverse (x) on: ${granted[*]} (setfacl -x u:$PG_OS_USER <dir> undoes it)"
  fi
}

# A unix socket path is limited to 107 bytes. For a deeply nested checkout the socket
# goes to a short directory under /tmp instead (named after the checkout).
pg_choose_socket_dir() {
  local sock="$PG_SOCKET_DIR/.s.PGSQL.$PG_PORT"
  if ((${#sock} > 100)); then
    PG_SOCKET_DIR="/tmp/keyflow-pg-$(printf '%s' "$KEYFLOW_ROOT" | md5sum | cut -c1-12)"
    warn "socket path under .local/ too long; using $PG_SOCKET_DIR for the PostgreSQL socket"
  fi
}

# Creates the socket directory (0700, owned by the cluster's owner) and the cluster itself
# once. Later runs reuse the cluster and its data.
pg_init() {
  pg_choose_socket_dir
  local bindir
  bindir="$(pg_bindir)"
  install -d -m 0700 -o "$PG_OS_USER" -g "$(id -gn "$PG_OS_USER")" "$PG_SOCKET_DIR"
  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    log "creating PostgreSQL cluster in .local/pg (once)"
    rm -rf "$PG_DATA"
    install -d -m 0700 -o "$PG_OS_USER" -g "$(id -gn "$PG_OS_USER")" "$PG_DATA"
    as_pg_user "$bindir/initdb" --pgdata="$PG_DATA" --username="$PG_DB_USER" \
      --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 \
      >"$KEYFLOW_ROOT/.local/initdb.log" ||
      die "initdb failed; see .local/initdb.log"
    # Our settings live in a file of their own, rewritten at every start.
    printf "\n# scripts/run writes keyflow-run.conf at every start\ninclude_if_exists = 'keyflow-run.conf'\n" |
      as_pg_user tee -a "$PG_DATA/postgresql.conf" >/dev/null
  elif [[ "$(stat -c %U "$PG_DATA")" != "$PG_OS_USER" ]]; then
    # E.g. the system user was deleted and created again with another uid.
    chown -R "$PG_OS_USER:$(id -gn "$PG_OS_USER")" "$PG_DATA"
  fi
  local quoted_dir="${PG_SOCKET_DIR//\'/\'\'}"
  as_pg_user tee "$PG_DATA/keyflow-run.conf" >/dev/null <<CONF
# Written by scripts/run at every start; edits here are overwritten.
listen_addresses = ''
unix_socket_directories = '$quoted_dir'
unix_socket_permissions = 0700
port = $PG_PORT
fsync = on
max_connections = 100
CONF
  if [[ ! -e "$PG_LOG" ]]; then
    install -m 0600 -o "$PG_OS_USER" -g "$(id -gn "$PG_OS_USER")" /dev/null "$PG_LOG"
  fi
}

pg_running() {
  as_pg_user "$(pg_bindir)/pg_ctl" status --pgdata="$PG_DATA" >/dev/null 2>&1
}

pg_start() {
  local bindir
  bindir="$(pg_bindir)"
  if pg_running; then
    # We hold the run lock, so this server was left by a scripts/run that was killed
    # without its clean-up. Restart it so that it picks up this run's settings.
    log "PostgreSQL left running by an earlier scripts/run; restarting it"
    as_pg_user "$bindir/pg_ctl" stop --pgdata="$PG_DATA" --mode=fast --wait >/dev/null
  fi
  log "starting PostgreSQL (.local/pg, log in .local/postgresql.log)"
  # pg_ctl puts the server in a session of its own, so Ctrl-C reaches only this script,
  # whose trap stops the server.
  as_pg_user "$bindir/pg_ctl" start --pgdata="$PG_DATA" --log="$PG_LOG" --wait --timeout=120 \
    >/dev/null || die "PostgreSQL did not start; see .local/postgresql.log"
}

pg_stop() {
  [[ -f "$PG_DATA/PG_VERSION" ]] || return 0
  if pg_running; then
    log "stopping PostgreSQL"
    as_pg_user "$(pg_bindir)/pg_ctl" stop --pgdata="$PG_DATA" --mode=fast --wait --timeout=120 >/dev/null
  fi
}

# The libpq connection string (keyword/value form) for the keyflow database.
pg_conninfo() {
  local host="${PG_SOCKET_DIR//\\/\\\\}"
  host="${host//\'/\\\'}"
  printf "host='%s' port=%s dbname=%s user=%s" "$host" "$PG_PORT" "$PG_DB_NAME" "$PG_DB_USER"
}

pg_create_database() {
  local bindir psql
  bindir="$(pg_bindir)"
  psql=("$bindir/psql" --no-psqlrc --quiet --no-align --tuples-only
    --host="$PG_SOCKET_DIR" --port="$PG_PORT" --username="$PG_DB_USER" --dbname=postgres)
  if [[ "$(as_pg_user "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB_NAME'")" != 1 ]]; then
    log "creating database $PG_DB_NAME"
    as_pg_user "${psql[@]}" -c "CREATE DATABASE $PG_DB_NAME" >/dev/null
  fi
}
