#!/usr/bin/env bash
# The real services landun's integration tests and local runs use, on loopback: Kafka
# (scripts/kafka.sh), Redis (scripts/redis.sh) and PostgreSQL (scripts/postgres.sh).
# Usage: scripts/services.sh up|down|status
#   up      start all three (each is a no-op when already up) and wait until each answers;
#           then apply the schema migrations to the database `landun` (`landun db upgrade`).
#   down    stop all three; tries each even if one fails.
#   status  print all three; exit 0 only when all are up.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

case "${1:-}" in
    up)
        # Redis and PostgreSQL first: they are quick, and a failure there is reported before
        # Kafka's longer start.
        bash "$HERE/redis.sh" up
        bash "$HERE/postgres.sh" up
        bash "$HERE/kafka.sh" up
        # The development database's schema, as `landun api` would bring it up to date.
        LANDUN=$HERE/../.venv/bin/landun
        if [ -x "$LANDUN" ]; then
            LANDUN_DATABASE_URL="postgresql+psycopg://landun@127.0.0.1:${LANDUN_PG_PORT:-5432}/landun" \
                "$LANDUN" db upgrade >/dev/null
            echo "postgres: schema of database landun at the head revision" >&2
        else
            echo "postgres: schema not applied (no .venv yet: \`make install\`, then \`make services\`)" >&2
        fi
        ;;
    down)
        rc=0
        bash "$HERE/kafka.sh" down || rc=1
        bash "$HERE/postgres.sh" down || rc=1
        bash "$HERE/redis.sh" down || rc=1
        exit "$rc"
        ;;
    status)
        rc=0
        bash "$HERE/kafka.sh" status || rc=1
        bash "$HERE/redis.sh" status || rc=1
        bash "$HERE/postgres.sh" status || rc=1
        exit "$rc"
        ;;
    *)
        echo "usage: $0 up|down|status" >&2
        exit 2
        ;;
esac
