#!/usr/bin/env bash
# A PostgreSQL cluster on loopback for development and tests, from Debian's `postgresql` package
# (installed with apt-get when missing). Usage: scripts/postgres.sh up|down|status
#
#   up      create the cluster on first use (initdb), start it, wait until it answers, and make
#           sure the role `landun` (CREATEDB, not a superuser) and its database `landun` exist.
#           Does nothing more than that check when ours is already up.
#   down    pg_ctl stop in fast mode; immediate mode after LANDUN_PG_STOP_TIMEOUT s; then SIGKILL.
#   status  exit 0 when our server runs and answers on 127.0.0.1, 1 otherwise.
#
# Everything lives under var/postgres/ (ignored by git): data/ (the cluster), postgres.log, and the
# unix socket (.s.PGSQL.<port>). Authentication is `trust` for 127.0.0.1 and the socket: this is a
# development/test cluster only, never a place for real data. PostgreSQL refuses to run as root, so
# as root (CI) the server runs as the `postgres` system user that Debian's package creates; if that
# user cannot reach var/postgres (a checkout under /root), the cluster goes to
# ~postgres/landun-<hash of the checkout path> instead and var/postgres/cluster points at it.
# Settings: LANDUN_PG_PORT (5432), LANDUN_PG_START_TIMEOUT (60 s), LANDUN_PG_STOP_TIMEOUT (30 s).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/debian-packages.sh
. "$ROOT/scripts/debian-packages.sh"

HOST=127.0.0.1
PORT=${LANDUN_PG_PORT:-5432}
START_TIMEOUT=${LANDUN_PG_START_TIMEOUT:-60}
STOP_TIMEOUT=${LANDUN_PG_STOP_TIMEOUT:-30}
ROLE=landun
DATABASE=landun
SUPERUSER=postgres
SERVER_USER=postgres # the system user the server runs as when this script runs as root

DIR=$ROOT/var/postgres
# Set by locate_cluster: where data/, the log and the socket are (normally $DIR).
CLUSTER=
DATA=
LOG=
# Set by find_bindir: the directory of initdb, pg_ctl, pg_isready, psql.
BINDIR=

say() { echo "postgres: $*" >&2; }

die() {
    say "ERROR: $*"
    exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as the user the server belongs to: initdb and pg_ctl refuse to run as root.
as_server_user() {
    if is_root; then
        # From /: the server user may not be allowed into the caller's directory.
        (cd / && runuser -u "$SERVER_USER" -- "$@")
    else
        "$@"
    fi
}

# The newest installed server's bin directory: pg_config's first (on Debian, postgresql-common's
# pg_config answers for the newest server), else /usr/lib/postgresql/<version>/bin by version.
# A cluster that exists already needs the binaries of its own major version (status 2 when they
# are not installed; 1 when no server is installed at all).
find_bindir() {
    local wanted=
    [ -n "$DATA" ] && wanted=$(as_server_user cat "$DATA/PG_VERSION" 2>/dev/null || true)
    if [ -n "$wanted" ]; then
        if [ -x "/usr/lib/postgresql/$wanted/bin/postgres" ]; then
            echo "/usr/lib/postgresql/$wanted/bin"
            return 0
        fi
        local candidate
        candidate=$(pg_config --bindir 2>/dev/null || true)
        if [ -n "$candidate" ] && [ -x "$candidate/postgres" ] \
            && [ "$("$candidate/postgres" -V | sed -E 's/.* ([0-9]+)[.].*/\1/')" = "$wanted" ]; then
            echo "$candidate"
            return 0
        fi
        say "ERROR: the cluster in $DATA is PostgreSQL $wanted, whose server is not installed;" \
            "install postgresql-$wanted, or drop the cluster: rm -rf $CLUSTER"
        return 2
    fi
    local bindir
    bindir=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$bindir" ] && [ -x "$bindir/initdb" ] && [ -x "$bindir/pg_ctl" ]; then
        echo "$bindir"
        return 0
    fi
    bindir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null \
        | sort -V | tail -n 1)
    if [ -n "$bindir" ] && [ -x "$bindir/initdb" ]; then
        echo "$bindir"
        return 0
    fi
    return 1
}

# Debian keeps the server programs off PATH (/usr/lib/postgresql/N/bin); pg_ctlcluster comes with
# them (postgresql-common, a dependency of the server) and is on PATH, so it stands for them here.
install_server() {
    local installed_now=0
    command -v pg_ctlcluster >/dev/null 2>&1 || installed_now=1
    ensure_command pg_ctlcluster postgresql || die "could not install Debian's postgresql"
    if [ "$installed_now" = 1 ] && command -v pg_lsclusters >/dev/null 2>&1; then
        # The package creates and may start its own cluster `main` on 5432, which would take our
        # port; it did not run before this install, so stopping it changes nothing else.
        local version name status
        while read -r version name _ status _; do
            if [ "$status" = online ]; then
                say "stopping the cluster $version/$name that installing the package started"
                pg_ctlcluster "$version" "$name" stop || true
            fi
        done < <(pg_lsclusters -h 2>/dev/null)
    fi
}

# Decides CLUSTER: var/postgres, unless the server user cannot reach it (see the header).
locate_cluster() {
    CLUSTER=$DIR
    if is_root; then
        getent passwd "$SERVER_USER" >/dev/null \
            || die "no '$SERVER_USER' user; PostgreSQL will not run as root (install Debian's postgresql)"
        command -v runuser >/dev/null || die "runuser (util-linux) is missing"
        if ! runuser -u "$SERVER_USER" -- test -x "$ROOT/var"; then
            local home
            home=$(getent passwd "$SERVER_USER" | cut -d: -f6)
            CLUSTER=$home/landun-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
        fi
    fi
    DATA=$CLUSTER/data
    LOG=$CLUSTER/postgres.log
}

# True while process $1 exists and is not a zombie (an orphaned server is reaped by whatever
# init the machine has, maybe late; a zombie has let go of its port and files already).
alive() {
    local state
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# The postmaster's pid when ours runs (its pid file names a live postgres), else nothing.
server_pid() {
    local pid
    pid=$(as_server_user head -n 1 "$DATA/postmaster.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && alive "$pid" \
        && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'postgres'; then
        echo "$pid"
    fi
}

# The port our running server was started with (line 4 of postmaster.pid).
running_port() {
    as_server_user sed -n 4p "$DATA/postmaster.pid" 2>/dev/null || true
}

answers() {
    local isready=${BINDIR:+$BINDIR/}pg_isready
    command -v "$isready" >/dev/null 2>&1 || return 1
    "$isready" -q -h "$HOST" -p "$PORT" -t 3
}

# Owned by the server user, private: initdb and the server insist on 0700 for the data directory.
prepare_cluster_dir() {
    if [ "$CLUSTER" != "$DIR" ]; then
        ln -sfn "$CLUSTER" "$DIR/cluster"
    fi
    if is_root; then
        runuser -u "$SERVER_USER" -- mkdir -p "$CLUSTER" 2>/dev/null || mkdir -p "$CLUSTER"
        local owner
        owner=$(stat -c %U "$CLUSTER")
        [ "$owner" = "$SERVER_USER" ] || chown -R "$SERVER_USER:" "$CLUSTER"
    else
        mkdir -p "$CLUSTER"
    fi
    # A unix socket path is limited to 107 bytes; say so instead of the server's terse failure.
    local socket=$CLUSTER/.s.PGSQL.$PORT
    [ "${#socket}" -le 100 ] || die "the socket path $socket is too long for a unix socket;" \
        "use a checkout with a shorter path"
}

init_cluster() {
    as_server_user test -f "$DATA/PG_VERSION" && return 0
    say "creating the cluster in $DATA ($("$BINDIR/postgres" -V))"
    # C locale: byte order, the same on every machine; UTF8 for the Chinese names and addresses.
    as_server_user "$BINDIR/initdb" -D "$DATA" -U "$SUPERUSER" --encoding=UTF8 --locale=C \
        --auth=trust >"$CLUSTER/initdb.log" 2>&1 \
        || {
            cat "$CLUSTER/initdb.log" >&2
            die "initdb failed"
        }
    # Our settings live in landun.conf (rewritten at every start); initdb's file includes it last.
    as_server_user sh -c "echo \"include_if_exists = 'landun.conf'\" >>'$DATA/postgresql.conf'"
}

render_config() {
    as_server_user tee "$DATA/landun.conf" >/dev/null <<EOF
# Written by scripts/postgres.sh; edits are overwritten at the next start.
listen_addresses = '$HOST'
port = $PORT
unix_socket_directories = '$CLUSTER'
# Tests open many short-lived databases and connections.
max_connections = 200
# A development/test cluster: speed over crash safety. A machine crash may corrupt it; then
# reset it (docs/services.md). Never use these settings for real data.
fsync = off
synchronous_commit = off
full_page_writes = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    # trust on loopback and the socket only: the server listens nowhere else.
    as_server_user tee "$DATA/pg_hba.conf" >/dev/null <<EOF
# Written by scripts/postgres.sh. Development/test cluster: no passwords, loopback only.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   $HOST/32  trust
EOF
}

ensure_role_and_database() {
    # \gexec runs the generated statement only when the SELECT returns it: idempotent creation.
    "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$CLUSTER" -p "$PORT" -U "$SUPERUSER" -d postgres \
        >/dev/null <<EOF || die "could not create the role and database $ROLE"
SELECT 'CREATE ROLE $ROLE LOGIN CREATEDB'
    WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') \gexec
ALTER ROLE $ROLE LOGIN CREATEDB NOSUPERUSER NOCREATEROLE;
SELECT 'CREATE DATABASE $DATABASE OWNER $ROLE'
    WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DATABASE') \gexec
EOF
}

cmd_up() {
    locate_cluster
    local rc=0
    BINDIR=$(find_bindir) || rc=$?
    [ "$rc" -ne 2 ] || exit 1
    if [ "$rc" -ne 0 ]; then
        install_server
        BINDIR=$(find_bindir) || die "postgresql is installed but no initdb was found under" \
            "/usr/lib/postgresql/*/bin; reinstall it: apt-get install --reinstall postgresql"
    fi
    local pid
    pid=$(server_pid)
    if [ -n "$pid" ]; then
        local running
        running=$(running_port)
        [ "$running" = "$PORT" ] \
            || die "our server (pid $pid) runs on port ${running:-unknown}; run '$0 down' first"
    else
        port_open "$HOST" "$PORT" && {
            local hint="see: ss -ltnp"
            command -v pg_lsclusters >/dev/null 2>&1 \
                && pg_lsclusters -h 2>/dev/null | awk -v p="$PORT" '$3 == p && $4 == "online"' \
                    | grep -q . && hint="Debian's own cluster runs there: pg_lsclusters"
            die "$HOST:$PORT is taken by a server that is not ours ($hint); stop it or set" \
                "LANDUN_PG_PORT"
        }
        prepare_cluster_dir
        init_cluster
        render_config
        # setsid: the server outlives the calling shell and is not hit by its Ctrl-C.
        # 9>&-: it must not inherit (and hold for its whole life) the lock taken in `main`.
        as_server_user setsid --wait "$BINDIR/pg_ctl" start -D "$DATA" -l "$LOG" -w \
            -t "$START_TIMEOUT" -s 9>&- </dev/null \
            || {
                as_server_user tail -n 20 "$LOG" >&2 || true
                die "the server did not start (log: $LOG)"
            }
    fi
    # pg_ctl -w waits for the socket; also wait for TCP, which is what the clients use.
    local deadline=$((SECONDS + START_TIMEOUT))
    until answers; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            as_server_user tail -n 20 "$LOG" >&2 || true
            die "no answer from $HOST:$PORT within ${START_TIMEOUT}s (log: $LOG)"
        fi
        sleep 0.2
    done
    ensure_role_and_database
    if [ -n "$pid" ]; then
        say "already up on $HOST:$PORT (pid $pid)"
    else
        say "up on $HOST:$PORT (pid $(server_pid), role and database '$ROLE', data in $DATA)"
    fi
}

cmd_down() {
    locate_cluster
    local pid
    pid=$(server_pid)
    if [ -z "$pid" ]; then
        say "not running"
        return 0
    fi
    BINDIR=$(find_bindir) || die "no pg_ctl of this cluster's version to stop pid $pid"
    # fast: roll back open transactions and disconnect clients, then a clean shutdown checkpoint.
    if ! as_server_user "$BINDIR/pg_ctl" stop -D "$DATA" -m fast -w -t "$STOP_TIMEOUT" -s; then
        say "no clean shutdown within ${STOP_TIMEOUT}s; stopping in immediate mode"
        as_server_user "$BINDIR/pg_ctl" stop -D "$DATA" -m immediate -w -t 10 -s || true
    fi
    # pg_ctl returns once the pid file is gone; the postmaster exits a moment later.
    local deadline=$((SECONDS + 10))
    while alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.1
    done
    if alive "$pid"; then
        say "still running; killing pid $pid"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    say "stopped (pid $pid)"
}

cmd_status() {
    locate_cluster
    BINDIR=$(find_bindir 2>/dev/null) || BINDIR=
    local pid
    pid=$(server_pid)
    if [ -n "$pid" ] && [ "$(running_port)" = "$PORT" ] && answers; then
        echo "postgres: up on $HOST:$PORT (pid $pid, data in $DATA)"
        return 0
    fi
    echo "postgres: down"
    return 1
}

main() {
    local action=${1:-}
    case "$action" in
        up | down)
            mkdir -p "$DIR"
            # One `up`/`down` at a time per checkout: parallel `make services` runs wait here.
            exec 9>"$DIR/.lock"
            flock -w 120 9 || die "another scripts/postgres.sh is still running"
            if [ "$action" = up ]; then cmd_up; else cmd_down; fi
            ;;
        status) cmd_status ;;
        *)
            echo "usage: $0 up|down|status" >&2
            exit 2
            ;;
    esac
}

main "$@"
