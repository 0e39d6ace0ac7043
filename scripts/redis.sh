#!/usr/bin/env bash
# A Redis server on loopback for development and tests, from Debian's redis-server package
# (installed with apt-get when missing). Usage: scripts/redis.sh up|down|status
#
#   up      start it daemonised with its own config and wait until it answers PING;
#           does nothing when ours is already up.
#   down    SHUTDOWN NOSAVE, then SIGKILL if it is still there after LANDUN_REDIS_STOP_TIMEOUT s.
#   status  exit 0 when our server answers PING, 1 otherwise.
#
# Everything lives under var/redis/ (ignored by git): redis.conf (rendered), redis.pid, redis.log.
# No persistence: Redis only holds the derived live view, which the workers rebuild from Kafka.
# Settings: LANDUN_REDIS_PORT (6379), LANDUN_REDIS_START_TIMEOUT (20 s), LANDUN_REDIS_STOP_TIMEOUT (10 s),
# LANDUN_REDIS_DIR (var/redis of the checkout; tests run a private server in a temporary one).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/debian-packages.sh
. "$ROOT/scripts/debian-packages.sh"

HOST=127.0.0.1
PORT=${LANDUN_REDIS_PORT:-6379}
START_TIMEOUT=${LANDUN_REDIS_START_TIMEOUT:-20}
STOP_TIMEOUT=${LANDUN_REDIS_STOP_TIMEOUT:-10}

DIR=${LANDUN_REDIS_DIR:-$ROOT/var/redis}
CONFIG=$DIR/redis.conf
PID_FILE=$DIR/redis.pid
LOG=$DIR/redis.log

say() { echo "redis: $*" >&2; }

die() {
    say "ERROR: $*"
    exit 1
}

# The pid of our running server, or nothing (a stale pid file does not count).
server_pid() {
    [ -f "$PID_FILE" ] || return 0
    local pid
    pid=$(cat "$PID_FILE")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
        && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'redis-server'; then
        echo "$pid"
    fi
}

answers_ping() {
    [ "$(timeout 3 redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null)" = PONG ]
}

render_config() {
    cat >"$CONFIG" <<EOF
# Written by scripts/redis.sh; edits are overwritten at the next start.
bind $HOST
port $PORT
protected-mode yes
daemonize yes
pidfile $PID_FILE
logfile $LOG
loglevel notice
dir $DIR
# No snapshots and no append-only file: the live view is derived data.
save ""
appendonly no
EOF
}

cmd_up() {
    local pid
    pid=$(server_pid)
    if [ -n "$pid" ] && command -v redis-cli >/dev/null && answers_ping; then
        say "already up on $HOST:$PORT (pid $pid)"
        return 0
    fi
    if [ -n "$pid" ]; then
        local running
        running=$(grep '^port ' "$CONFIG" 2>/dev/null | cut -d' ' -f2)
        [ "$running" = "$PORT" ] \
            || die "our server (pid $pid) runs on port ${running:-unknown}; run '$0 down' first"
    fi
    # Debian's redis-server package brings redis-cli (redis-tools) with it.
    ensure_command redis-server redis-server
    ensure_command redis-cli redis-tools
    mkdir -p "$DIR"
    if [ -z "$pid" ]; then
        rm -f "$PID_FILE"
        port_open "$HOST" "$PORT" \
            && die "$HOST:$PORT is taken by a server that is not ours (a system redis? see: ss -ltnp)"
        render_config
        : >"$LOG"
        # 9>&-: the daemon must not inherit (and hold forever) the lock taken in `main`.
        redis-server "$CONFIG" 9>&- || { tail -n 20 "$LOG" >&2; die "redis-server did not start"; }
    fi
    local deadline=$((SECONDS + START_TIMEOUT))
    until answers_ping; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            tail -n 20 "$LOG" >&2
            die "no PONG from $HOST:$PORT within ${START_TIMEOUT}s (log: $LOG)"
        fi
        sleep 0.2
    done
    say "up on $HOST:$PORT (pid $(server_pid), log in $LOG)"
}

cmd_down() {
    local pid
    pid=$(server_pid)
    if [ -z "$pid" ]; then
        rm -f "$PID_FILE"
        say "not running"
        return 0
    fi
    timeout 5 redis-cli -h "$HOST" -p "$PORT" shutdown nosave >/dev/null 2>&1 \
        || kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "no clean shutdown within ${STOP_TIMEOUT}s; killing pid $pid"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
    say "stopped (pid $pid)"
}

cmd_status() {
    local pid
    pid=$(server_pid)
    if [ -n "$pid" ] && command -v redis-cli >/dev/null && answers_ping; then
        echo "redis: up on $HOST:$PORT (pid $pid)"
        return 0
    fi
    echo "redis: down"
    return 1
}

main() {
    local action=${1:-}
    case "$action" in
        up | down)
            mkdir -p "$DIR"
            # One `up`/`down` at a time per checkout: parallel `make services` runs wait here.
            exec 9>"$DIR/.lock"
            flock -w 120 9 || die "another scripts/redis.sh is still running"
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
