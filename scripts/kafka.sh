#!/usr/bin/env bash
# A single-node Apache Kafka 4.x (KRaft, broker + controller in one JVM) on loopback, for
# development and tests. Usage: scripts/kafka.sh up|down|status
#
#   up      resolve the pinned broker jars with Maven (once; cached), format the storage (once),
#           start the broker in the background and wait until an admin request succeeds.
#           Does nothing when our broker is already up.
#   down    stop it: SIGTERM (controlled shutdown), then SIGKILL after LANDUN_KAFKA_STOP_TIMEOUT s.
#   status  exit 0 when our broker is running and accepting connections, 1 otherwise.
#
# Everything lives under var/kafka/ (ignored by git): m2/ (jar cache), classpath.txt (+ the pom
# hash it was resolved for), server.properties (rendered), data/, logs/ (server.log, kafka.out),
# kafka.pid. Settings: LANDUN_KAFKA_PORT (9092), LANDUN_KAFKA_CONTROLLER_PORT (9093),
# LANDUN_KAFKA_HEAP_OPTS, LANDUN_KAFKA_START_TIMEOUT (120 s), LANDUN_KAFKA_STOP_TIMEOUT (60 s).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/debian-packages.sh
. "$ROOT/scripts/debian-packages.sh"

HOST=127.0.0.1
PORT=${LANDUN_KAFKA_PORT:-9092}
CONTROLLER_PORT=${LANDUN_KAFKA_CONTROLLER_PORT:-9093}
HEAP_OPTS=${LANDUN_KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}
START_TIMEOUT=${LANDUN_KAFKA_START_TIMEOUT:-120}
STOP_TIMEOUT=${LANDUN_KAFKA_STOP_TIMEOUT:-60}

POM=$ROOT/deploy/kafka/pom.xml
TEMPLATE=$ROOT/deploy/kafka/server.properties
LOG4J_CONFIG=$ROOT/deploy/kafka/log4j2.properties
DIR=$ROOT/var/kafka
M2=$DIR/m2
CLASSPATH_FILE=$DIR/classpath.txt
CLASSPATH_KEY=$DIR/classpath.pom-sha256
CONFIG=$DIR/server.properties
DATA=$DIR/data
LOGS=$DIR/logs
PID_FILE=$DIR/kafka.pid

say() { echo "kafka: $*" >&2; }

die() {
    say "ERROR: $*"
    exit 1
}

# Lines of server.log written before this start; the tail shown on failure skips them.
SERVER_LOG_START=0

show_log_tail() {
    if [ -s "$LOGS/kafka.out" ]; then
        echo "---- last lines of $LOGS/kafka.out ----" >&2
        tail -n 20 "$LOGS/kafka.out" >&2
    fi
    if [ -s "$LOGS/server.log" ]; then
        local fresh
        fresh=$(tail -n +$((SERVER_LOG_START + 1)) "$LOGS/server.log")
        [ -n "$fresh" ] || return 0
        echo "---- errors in $LOGS/server.log since this start ----" >&2
        grep -E '^\[[^]]*\] (ERROR|FATAL)' <<<"$fresh" | tail -n 10 >&2 || echo "(none)" >&2
        echo "---- last lines of it ----" >&2
        tail -n 20 <<<"$fresh" >&2
    fi
}

# The pid of our running broker, or nothing. A stale pid file (or a pid reused by another
# program) does not count.
broker_pid() {
    [ -f "$PID_FILE" ] || return 0
    local pid
    pid=$(cat "$PID_FILE")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
        && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'; then
        echo "$pid"
    fi
}

ensure_java() {
    ensure_command java openjdk-17-jre-headless
    ensure_command mvn maven
}

# Resolve the broker's runtime classpath with Maven, reusing the cached one while the pom is
# unchanged and every jar in it is still there.
resolve_classpath() {
    local key
    key=$(sha256sum "$POM" | cut -d' ' -f1)
    if [ -s "$CLASSPATH_FILE" ] && [ "$(cat "$CLASSPATH_KEY" 2>/dev/null)" = "$key" ]; then
        local jar missing=0
        while IFS= read -r jar; do
            [ -f "$jar" ] || missing=1
        done < <(tr ':' '\n' <"$CLASSPATH_FILE")
        [ "$missing" -eq 0 ] && return 0
    fi
    say "resolving the broker jars with Maven (first run downloads them into var/kafka/m2) ..."
    local log="$LOGS/maven.log"
    if ! mvn -B -q -Dstyle.color=never -f "$POM" -Dmaven.repo.local="$M2" \
        dependency:build-classpath -Dmdep.includeScope=runtime \
        -Dmdep.outputFile="$CLASSPATH_FILE.tmp" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "Maven could not resolve $POM (full output in $log)"
    fi
    mv "$CLASSPATH_FILE.tmp" "$CLASSPATH_FILE"
    echo "$key" >"$CLASSPATH_KEY"
}

# The template plus the settings that depend on this machine; later keys win in a .properties file.
render_config() {
    {
        cat "$TEMPLATE"
        echo
        echo "# ---- written by scripts/kafka.sh from the environment ----"
        echo "listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT"
        echo "advertised.listeners=PLAINTEXT://$HOST:$PORT"
        echo "controller.quorum.voters=1@$HOST:$CONTROLLER_PORT"
        echo "log.dirs=$DATA"
    } >"$CONFIG"
}

run_java() {
    java -Xmx256m -XX:TieredStopAtLevel=1 -cp "$(cat "$CLASSPATH_FILE")" "$@"
}

format_storage() {
    [ -f "$DATA/meta.properties" ] && return 0
    local cluster_id log="$LOGS/format.log"
    cluster_id=$(run_java kafka.tools.StorageTool random-uuid 2>"$log") \
        || { cat "$log" >&2; die "could not generate a cluster id"; }
    if ! run_java kafka.tools.StorageTool format --config "$CONFIG" \
        --cluster-id "$cluster_id" --ignore-formatted >"$log" 2>&1; then
        cat "$log" >&2
        die "formatting the storage in $DATA failed"
    fi
    say "formatted $DATA (cluster id $cluster_id)"
}

# One real admin round trip: describe this broker's configuration.
answers_admin_request() {
    timeout 30 java -Xmx128m -XX:TieredStopAtLevel=1 -Dlog4j2.level=ERROR \
        -cp "$(cat "$CLASSPATH_FILE")" kafka.admin.ConfigCommand \
        --bootstrap-server "$HOST:$PORT" --describe --entity-type brokers --entity-name 1 \
        >"$LOGS/probe.log" 2>&1
}

start_broker() {
    : >"$LOGS/kafka.out"
    if [ -f "$LOGS/server.log" ]; then
        SERVER_LOG_START=$(wc -l <"$LOGS/server.log")
    fi
    # setsid: the broker outlives the calling shell and is not hit by its Ctrl-C.
    # 9>&-: it must not inherit (and so hold for its whole life) the lock of `main`.
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
        java $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:InitiatingHeapOccupancyPercent=35 -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$LOG4J_CONFIG" -Dkafka.logs.dir="$LOGS" \
        -cp "$(cat "$CLASSPATH_FILE")" kafka.Kafka "$CONFIG" \
        </dev/null >>"$LOGS/kafka.out" 2>&1 9>&- &
    local tries=0
    until [ -s "$PID_FILE" ] || [ "$tries" -ge 50 ]; do
        sleep 0.1
        tries=$((tries + 1))
    done
}

wait_until_ready() {
    local deadline=$((SECONDS + START_TIMEOUT))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if [ -z "$(broker_pid)" ]; then
            show_log_tail
            die "the broker exited during start-up (logs in $LOGS)"
        fi
        if port_open "$HOST" "$PORT" && answers_admin_request; then
            return 0
        fi
        sleep 1
    done
    show_log_tail
    [ -s "$LOGS/probe.log" ] && { echo "---- last probe ----" >&2; tail -n 5 "$LOGS/probe.log" >&2; }
    stop_broker
    die "the broker did not answer on $HOST:$PORT within ${START_TIMEOUT}s (logs in $LOGS)"
}

stop_broker() {
    local pid
    pid=$(broker_pid)
    if [ -z "$pid" ]; then
        rm -f "$PID_FILE"
        say "not running"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "no clean shutdown within ${STOP_TIMEOUT}s; killing pid $pid"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    fi
    rm -f "$PID_FILE"
    say "stopped (pid $pid)"
}

cmd_up() {
    local pid
    pid=$(broker_pid)
    if [ -n "$pid" ] && port_open "$HOST" "$PORT"; then
        say "already up on $HOST:$PORT (pid $pid)"
        return 0
    fi
    if [ -n "$pid" ]; then
        local running wanted="listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT"
        running=$(grep '^listeners=' "$CONFIG" 2>/dev/null | tail -n 1)
        [ "$running" = "$wanted" ] \
            || die "our broker (pid $pid) runs with ${running:-unknown listeners}; run '$0 down' first"
    fi
    ensure_java
    mkdir -p "$DATA" "$LOGS"
    resolve_classpath
    if [ -z "$pid" ]; then
        rm -f "$PID_FILE"
        local port
        for port in "$PORT" "$CONTROLLER_PORT"; do
            port_open "$HOST" "$port" \
                && die "$HOST:$port is taken by a process that is not our broker (see: ss -ltnp)"
        done
        render_config
        format_storage
        start_broker
    fi
    # Also reached when our broker is alive but not listening yet (another `up` just started it).
    wait_until_ready
    say "up on $HOST:$PORT (pid $(broker_pid), logs in var/kafka/logs)"
}

cmd_status() {
    local pid
    pid=$(broker_pid)
    if [ -n "$pid" ] && port_open "$HOST" "$PORT"; then
        echo "kafka: up on $HOST:$PORT (pid $pid)"
        return 0
    fi
    if [ -n "$pid" ]; then
        echo "kafka: starting (pid $pid), not answering on $HOST:$PORT yet"
    else
        echo "kafka: down"
    fi
    return 1
}

main() {
    local action=${1:-}
    case "$action" in
        up | down)
            mkdir -p "$DIR"
            # One `up`/`down` at a time per checkout: parallel `make services` runs wait here.
            exec 9>"$DIR/.lock"
            flock -w 600 9 || die "another scripts/kafka.sh is still running"
            if [ "$action" = up ]; then cmd_up; else stop_broker; fi
            ;;
        status) cmd_status ;;
        *)
            echo "usage: $0 up|down|status" >&2
            exit 2
            ;;
    esac
}

main "$@"
