#!/usr/bin/env bash
# PostGIS for the archive benchmark's baseline (bench/postgis.py, issue 12): installs Debian's
# postgresql-<major>-postgis-3 for the server scripts/postgres.sh runs, when its extension files
# are missing. The running server picks the extension up without a restart.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/debian-packages.sh
. "$ROOT/scripts/debian-packages.sh"

major=$(pg_config --version 2>/dev/null | sed -E 's/[^0-9]*([0-9]+).*/\1/')
[ -n "$major" ] || major=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
[ -n "$major" ] || { echo "postgis: no PostgreSQL installed (make services)" >&2; exit 1; }
control=/usr/share/postgresql/$major/extension/postgis.control
if [ -f "$control" ]; then
    echo "postgis: installed for PostgreSQL $major" >&2
    exit 0
fi
package=postgresql-$major-postgis-3
echo "postgis: installing Debian's $package ..." >&2
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package"
[ -f "$control" ] || { echo "postgis: installed $package but $control is missing" >&2; exit 1; }
