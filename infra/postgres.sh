#!/usr/bin/env bash
# PostgreSQL from Debian's packages for development and integration tests: the
# Debian cluster (default "main") on 127.0.0.1 only, plus the imcloud role and
# one database per service.
#   infra/postgres.sh install|up|down|status
set -euo pipefail
SCRIPT_NAME=postgres
# shellcheck source=infra/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PORT="${IMCLOUD_PG_PORT:-5432}"
CLUSTER="${IMCLOUD_PG_CLUSTER:-main}"
START_TIMEOUT="${IMCLOUD_PG_START_TIMEOUT:-60}"
ROLE=imcloud
PASSWORD=imcloud
DATABASES=(imcloud_gateway imcloud_products imcloud_production imcloud_servitization)
URL="postgresql://$ROLE:$PASSWORD@127.0.0.1:$PORT"

# Newest installed server unless pinned: Debian 12 ships 15, later releases newer.
server_version() {
  if [[ -n "${IMCLOUD_PG_VERSION:-}" ]]; then
    [[ -x "/usr/lib/postgresql/$IMCLOUD_PG_VERSION/bin/postgres" ]] && echo "$IMCLOUD_PG_VERSION"
    return
  fi
  local bins=(/usr/lib/postgresql/*/bin/postgres)
  [[ -x "${bins[0]}" ]] || return 1
  printf '%s\n' "${bins[@]}" | cut -d/ -f5 | sort -V | tail -n1
}

install() {
  if command -v pg_ctlcluster >/dev/null && server_version >/dev/null; then
    say "postgresql $(server_version) already installed"
  else
    apt_install "postgresql${IMCLOUD_PG_VERSION:+-$IMCLOUD_PG_VERSION}"
  fi
  VERSION="$(server_version)" || die "no PostgreSQL server found under /usr/lib/postgresql after install"
  # The package creates "main" on install, but not when create_main_cluster is
  # off or the cluster was dropped; a named cluster is always ours to create.
  if ! pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1==v && $2==c {f=1} END {exit !f}'; then
    say "creating cluster $VERSION/$CLUSTER"
    as_root pg_createcluster -p "$PORT" "$VERSION" "$CLUSTER" >/dev/null
  fi
}

cluster_online() {
  pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1==v && $2==c && $4 ~ /online/ {f=1} END {exit !f}'
}

# Our settings live in a conf.d drop-in (Debian's postgresql.conf includes
# conf.d, and pg_lsclusters/pg_ctlcluster read the port from it too), so the
# packaged postgresql.conf stays untouched. True if the file changed.
configure() {
  local file="/etc/postgresql/$VERSION/$CLUSTER/conf.d/imcloud.conf" want
  want="$(cat <<CONF
# Written by imcloud infra/postgres.sh; changes here are overwritten.
listen_addresses = '127.0.0.1'
port = $PORT
# Test suites open many pools at once; the default 100 runs out.
max_connections = 200
CONF
)"
  [[ -f "$file" && "$(cat "$file")" == "$want" ]] && return 1
  echo "$want" | as_root tee "$file" >/dev/null
}

pg_log() { echo "/var/log/postgresql/postgresql-$VERSION-$CLUSTER.log"; }

ctl() {
  local out
  # 9>&-: the postmaster must not inherit (and hold forever) take_lock's lock.
  if ! out="$(as_root pg_ctlcluster "$VERSION" "$CLUSTER" "$@" 2>&1 9>&-)"; then
    echo "$out" >&2
    die "pg_ctlcluster $VERSION $CLUSTER $* failed (log: $(pg_log))"
  fi
}

# Runs SQL from stdin as the postgres superuser over the local socket (peer auth).
psql_superuser() {
  local psql=(psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" -d postgres)
  if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "${psql[@]}"; else sudo -n -u postgres "${psql[@]}"; fi
}

# Idempotent: ALTER keeps the password and flags right even if someone changed them.
provision() {
  {
    cat <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE;
  END IF;
END \$\$;
ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
-- Tests drop their throwaway databases WITH (FORCE), which ends leftover sessions.
DO \$\$ BEGIN
  IF NOT pg_has_role('$ROLE', 'pg_signal_backend', 'member') THEN
    GRANT pg_signal_backend TO $ROLE;
  END IF;
END \$\$;
SQL
    for db in "${DATABASES[@]}"; do
      echo "SELECT 'CREATE DATABASE $db OWNER $ROLE' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db') \\gexec"
    done
  } | psql_superuser >/dev/null || die "could not create role $ROLE and its databases"
}

up() {
  install
  local running=no changed=no
  cluster_online && running=yes
  configure && changed=yes
  if [[ $running == yes && $changed == yes ]]; then
    say "settings changed, restarting $VERSION/$CLUSTER"
    ctl restart -m fast
  elif [[ $running == no ]]; then
    say "starting $VERSION/$CLUSTER"
    ctl start
  fi
  wait_until "$START_TIMEOUT" pg_isready -q -h 127.0.0.1 -p "$PORT" ||
    die "postgres not accepting connections on 127.0.0.1:$PORT within ${START_TIMEOUT}s (log: $(pg_log))"
  provision
  # The real client path: password (scram) auth over TCP, as the services use it.
  PGCONNECT_TIMEOUT=5 psql -X -q -At "$URL/${DATABASES[1]}" -c 'select 1' >/dev/null ||
    die "password login as $ROLE over 127.0.0.1:$PORT fails: check /etc/postgresql/$VERSION/$CLUSTER/pg_hba.conf"
  if [[ $running == yes && $changed == no ]]; then
    echo "postgres already running at $URL"
  else
    echo "postgres ready at $URL"
  fi
}

down() {
  VERSION="$(server_version)" || { echo "postgres not installed"; return; }
  if cluster_online; then
    ctl stop -m fast
    echo "postgres stopped"
  else
    echo "postgres not running"
  fi
}

status() {
  if VERSION="$(server_version)" && cluster_online && pg_isready -q -h 127.0.0.1 -p "$PORT"; then
    echo "postgres running at $URL (cluster $VERSION/$CLUSTER)"
  else
    echo "postgres not running"
    return 1
  fi
}

case "${1:-}" in
  install) take_lock; install; echo "postgresql $VERSION installed (cluster $VERSION/$CLUSTER)" ;;
  up) take_lock; up ;;
  down) take_lock; down ;;
  status) status ;;
  *) usage_and_exit ;;
esac
