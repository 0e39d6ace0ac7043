# Sourced by scripts/kafka.sh and scripts/redis.sh: installs a Debian package when the command
# it provides is missing, so a fresh machine (CI) needs nothing installed by hand.

# ensure_command COMMAND PACKAGE... : install PACKAGE(s) with apt-get unless COMMAND is on PATH.
ensure_command() {
    local command=$1
    shift
    command -v "$command" >/dev/null 2>&1 && return 0
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || {
            echo "'$command' is missing; install Debian package(s) $* (needs root)" >&2
            return 1
        }
        sudo=(sudo -n)
    fi
    echo "installing Debian package(s) $* for '$command' ..." >&2
    local log
    log=$(mktemp)
    # Keep the output quiet unless something fails, then show all of it.
    if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends "$@"; } >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "apt-get could not install $*" >&2
        return 1
    fi
    rm -f "$log"
    command -v "$command" >/dev/null 2>&1 || {
        echo "installed $* but '$command' is still not on PATH" >&2
        return 1
    }
}

# port_open HOST PORT : true when something accepts TCP connections there.
port_open() {
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}
