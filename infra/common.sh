# Shared helpers for infra/*.sh. Sourced, not executed.
# shellcheck shell=bash

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$INFRA_DIR/.." && pwd)"
# shellcheck disable=SC2034  # used by the scripts that source this file
CACHE_DIR="${IMCLOUD_CACHE_DIR:-$HOME/.cache/imcloud}"
# shellcheck disable=SC2034
STATE_DIR="${IMCLOUD_STATE_DIR:-$REPO_ROOT/.infra}"

# Progress goes to stderr and only with IMCLOUD_VERBOSE=1, so callers see one
# result line per command; failures always print.
say() { if [[ "${IMCLOUD_VERBOSE:-0}" == 1 ]]; then echo "[$SCRIPT_NAME] $*" >&2; fi; }
die() { echo "[$SCRIPT_NAME] error: $*" >&2; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found in PATH${2:+ ($2)}"; }

# Runs a command as root (directly, or through sudo when we are not root).
as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; else need sudo "run as root"; sudo -n "$@"; fi
}

# apt-get update + install, quietly; prints apt's output only when it fails.
apt_install() {
  need apt-get "install $* by hand"
  local log; log="$(mktemp)"
  say "apt-get install $*"
  if ! { as_root apt-get update -qq &&
         as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"
    die "apt-get install $* failed"
  fi
  rm -f "$log"
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# True when pid $1 is alive and its command line contains $2.
pid_matches() {
  [[ -n "$1" && -r "/proc/$1/cmdline" ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2"
}

# wait_until SECONDS CMD...: polls CMD every 0.25 s until it succeeds or time runs out.
wait_until() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.25
  done
}

# Serialises up/down/install across processes (parallel test workers may all
# call `up`); the lock is released when the script exits.
take_lock() {
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/$SCRIPT_NAME.lock"
  flock -w 120 9 || die "another infra/$SCRIPT_NAME.sh has held $STATE_DIR/$SCRIPT_NAME.lock for 120s"
}

usage_and_exit() {
  echo "usage: $0 up|down|status|install" >&2
  exit 2
}
