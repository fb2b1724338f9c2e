#!/usr/bin/env bash
# infra/kube.sh: a real kube-apiserver (+ etcd) on this machine, without Docker,
# for integration tests of the tenant provisioner.
#
#   infra/kube.sh install     build kube-apiserver and etcd (cached; skipped when
#                             the wrapper module in infra/kube/apiserver is unchanged)
#   infra/kube.sh up          install, generate certs/keys/token, start etcd and
#                             kube-apiserver, wait for /readyz, write the kubeconfig
#   infra/kube.sh down        stop kube-apiserver, then etcd (data is kept)
#   infra/kube.sh reset       down + delete the etcd data (next `up` starts empty)
#   infra/kube.sh status      print state; exit 0 when ready, 3 when not
#   infra/kube.sh kubeconfig  print the kubeconfig path (exit 1 if not written yet)
#
# Everything is idempotent: `up` on a running cluster only re-checks it.
#
# Binaries:  ${IMCLOUD_CACHE_DIR:-~/.cache/imcloud}/bin/{kube-apiserver,etcd}
# State:     ${IMCLOUD_STATE_DIR:-<repo>/.infra}/kube/ (pki/, etcd-data/, logs/,
#            *.pid, kubeconfig)
# Ports:     IMCLOUD_KUBE_PORT (6443, HTTPS), IMCLOUD_KUBE_ETCD_PORT (12379),
#            IMCLOUD_KUBE_ETCD_PEER_PORT (12380); all bound to 127.0.0.1.
# Timeout:   IMCLOUD_KUBE_READY_TIMEOUT (90 s) for `up`.
# Extra:     IMCLOUD_KUBE_APISERVER_ARGS, more kube-apiserver flags (split on
#            spaces; a later flag wins, e.g. "--watch-cache=false -v=2").
# Memory:    GOMEMLIMIT of the servers: IMCLOUD_KUBE_APISERVER_GOMEMLIMIT (512MiB),
#            IMCLOUD_KUBE_ETCD_GOMEMLIMIT (256MiB); soft limits (GC target).
#
# Use from Python (pip install kubernetes):
#   from kubernetes import client, config
#   config.load_kube_config(config_file="<state>/kube/kubeconfig")
#   client.CoreV1Api().list_namespace()
# The kubeconfig carries the generated CA (TLS is verified) and a bearer token of
# user "imcloud-admin" in group system:masters (authorization mode RBAC).
#
# Only the API server runs, no controller-manager/scheduler/kubelet:
#   * a deleted Namespace stays in phase Terminating forever (no namespace
#     controller empties it and removes the "kubernetes" finalizer);
#     Force it away like the controller would, after deleting its contents:
#     CoreV1Api().replace_namespace_finalize(name, ns_with_spec_finalizers_[])
#     (objects left inside stay in etcd and reappear if the name is reused);
#   * ResourceQuota.status is never filled in (no quota controller), and the
#     ResourceQuota admission plugin only enforces what is in status.hard, so
#     quotas are stored but NOT enforced. To test enforcement, set the status
#     yourself: replace_namespaced_resource_quota_status() with status.hard =
#     spec.hard and status.used = zeros; admission then counts and rejects
#     ("exceeded quota");
#   * LimitRanger admission works (defaults/max applied to pods);
#   * no "default" ServiceAccount is created in new namespaces, so creating a
#     Pod fails unless you create that ServiceAccount; pods never run.
set -euo pipefail

KUBE_VERSION="v1.37.2"   # must match k8s.io/kubernetes in infra/kube/apiserver/go.mod

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
MOD_DIR="$SCRIPT_DIR/kube/apiserver"
CACHE_DIR="${IMCLOUD_CACHE_DIR:-$HOME/.cache/imcloud}"
STATE_DIR="${IMCLOUD_STATE_DIR:-$REPO_ROOT/.infra}/kube"
[[ "$CACHE_DIR" == /* ]] || CACHE_DIR="$PWD/$CACHE_DIR"
[[ "$STATE_DIR" == /* ]] || STATE_DIR="$PWD/$STATE_DIR"
BIN_DIR="$CACHE_DIR/bin"
PKI="$STATE_DIR/pki"
LOGS="$STATE_DIR/logs"
ETCD_DATA="$STATE_DIR/etcd-data"
KUBECONFIG_FILE="$STATE_DIR/kubeconfig"
PORT="${IMCLOUD_KUBE_PORT:-6443}"
ETCD_PORT="${IMCLOUD_KUBE_ETCD_PORT:-12379}"
ETCD_PEER_PORT="${IMCLOUD_KUBE_ETCD_PEER_PORT:-12380}"
READY_TIMEOUT="${IMCLOUD_KUBE_READY_TIMEOUT:-90}"
SERVICE_CIDR="10.96.0.0/16"
APISERVER_BIN="$BIN_DIR/kube-apiserver"
ETCD_BIN="$BIN_DIR/etcd"
BUILD_STAMP="$BIN_DIR/.kube-apiserver-etcd.stamp"

log() { echo "kube: $*" >&2; }
die() { echo "kube: error: $*" >&2; exit 1; }

# Processes started by this invocation; stopped again if `up` fails.
STARTED=()
APISERVER_PID=""
cleanup_failed_up() {
  local rc=$? i
  if ((rc != 0 && ${#STARTED[@]} > 0)); then
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do stop_proc "${STARTED[i]}"; done
  fi
}

find_go() {
  if [[ -n "${GO:-}" ]]; then
    command -v "$GO" >/dev/null 2>&1 || die "GO=$GO is not an executable"
  elif command -v go >/dev/null 2>&1; then
    GO=go
  elif [[ -x /usr/local/go/bin/go ]]; then
    GO=/usr/local/go/bin/go
  else
    die "no Go toolchain found (need Go >= 1.26; set GO=/path/to/go)"
  fi
  export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
}

# ---------------------------------------------------------------- build ----

build_inputs_hash() {
  {
    "$GO" env GOVERSION GOOS GOARCH
    echo "$KUBE_VERSION"
    (cd "$MOD_DIR" && find . -name '*.go' -o -name 'go.mod' -o -name 'go.sum' | LC_ALL=C sort | xargs sha256sum)
  } | sha256sum | cut -c1-32
}

cmd_install() {
  find_go
  [[ -f "$MOD_DIR/go.mod" ]] || die "$MOD_DIR/go.mod missing"
  grep -q "k8s.io/kubernetes $KUBE_VERSION\$" "$MOD_DIR/go.mod" \
    || die "KUBE_VERSION=$KUBE_VERSION in $0 does not match k8s.io/kubernetes in $MOD_DIR/go.mod"
  mkdir -p "$BIN_DIR"
  # The lock fds (7: state, 8: build) are closed for the servers started
  # below, or they would hold the locks for their whole lifetime.
  exec 8>"$CACHE_DIR/.kube-build.lock"
  flock 8
  local want
  want="$(build_inputs_hash)"
  if [[ -x "$APISERVER_BIN" && -x "$ETCD_BIN" && -f "$BUILD_STAMP" && "$(cat "$BUILD_STAMP")" == "$want" ]]; then
    log "kube-apiserver $KUBE_VERSION and etcd already built ($BIN_DIR)"
    exec 8>&-
    return 0
  fi
  log "building kube-apiserver $KUBE_VERSION and etcd from $MOD_DIR (several minutes from a cold Go cache) ..."
  local start=$SECONDS tmp minor="${KUBE_VERSION#v1.}"
  minor="${minor%%.*}"
  tmp="$(mktemp -d "$BIN_DIR/.build.XXXXXX")"
  local vpkg ldflags="-s -w"
  for vpkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $vpkg.gitVersion=$KUBE_VERSION -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"
  done
  # GOGC=400: the compiler spends less time in GC on the huge generated
  # packages (about 14 % less CPU measured; peak RSS stays ~2.5 GB).
  if ! (cd "$MOD_DIR" && CGO_ENABLED=0 GOGC="${IMCLOUD_GO_BUILD_GOGC:-400}" "$GO" build -mod=readonly -trimpath -ldflags="$ldflags" -o "$tmp/" . ./etcd); then
    rm -rf "$tmp"
    die "go build in $MOD_DIR failed"
  fi
  mv -f "$tmp/kube-apiserver" "$APISERVER_BIN"
  mv -f "$tmp/etcd" "$ETCD_BIN"
  rm -rf "$tmp"
  echo "$want" > "$BUILD_STAMP"
  exec 8>&-
  log "built in $((SECONDS - start))s: $(du -h "$APISERVER_BIN" | cut -f1) kube-apiserver, $(du -h "$ETCD_BIN" | cut -f1) etcd"
}

# ---------------------------------------------------------- processes ----

# pid_of NAME: prints the pid from NAME.pid if that process is alive and is
# really ours (its command line mentions our state dir), else nothing. (Not
# usable in the first instants after the fork, before the exec.)
pid_of() {
  local f="$STATE_DIR/$1.pid" pid
  [[ -f "$f" ]] || return 0
  pid="$(cat "$f")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  if [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF "$STATE_DIR/"; then
    echo "$pid"
  fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop_proc() { # name
  local name="$1" pid i
  pid="$(pid_of "$name")"
  if [[ -z "$pid" ]]; then
    rm -f "$STATE_DIR/$name.pid"
    return 0
  fi
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not exit after 30s, killing it"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$STATE_DIR/$name.pid"
}

rotate_log() { [[ ! -f "$1" ]] || mv -f "$1" "$1.prev"; }

tail_log() {
  echo "---- last lines of $1 ----" >&2
  tail -n "${2:-40}" "$1" >&2 || true
  echo "----" >&2
}

admin_token() { cut -d, -f1 "$PKI/tokens.csv"; }

api_get() { # path -> prints body, fails on non-2xx
  curl -sS --fail --max-time 5 --cacert "$PKI/ca.crt" \
    -H "Authorization: Bearer $(admin_token)" "https://127.0.0.1:$PORT$1"
}

# ------------------------------------------------------------- config ----

gen_pki() {
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  command -v openssl >/dev/null 2>&1 || die "openssl not found"
  if [[ ! -f "$PKI/ca.crt" || ! -f "$PKI/ca.key" ]]; then
    log "generating CA"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -subj "/CN=imcloud-local-kube-ca" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null \
      || die "openssl: CA generation failed"
    rm -f "$PKI/apiserver.crt"
  fi
  if [[ ! -f "$PKI/apiserver.crt" || ! -f "$PKI/apiserver.key" ]]; then
    log "generating apiserver serving certificate"
    openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$PKI/apiserver.key" \
      -out "$PKI/apiserver.csr" -subj "/CN=kube-apiserver" 2>/dev/null \
      || die "openssl: serving key generation failed"
    cat > "$PKI/apiserver.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
    openssl x509 -req -in "$PKI/apiserver.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
      -CAcreateserial -sha256 -days 3650 -extfile "$PKI/apiserver.ext" \
      -out "$PKI/apiserver.crt" 2>/dev/null || die "openssl: signing the serving certificate failed"
    rm -f "$PKI/apiserver.csr"
  fi
  if [[ ! -f "$PKI/sa.key" || ! -f "$PKI/sa.pub" ]]; then
    log "generating service-account signing key pair"
    openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null || die "openssl genrsa failed"
    openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null || die "openssl rsa -pubout failed"
  fi
  if [[ ! -f "$PKI/tokens.csv" ]]; then
    # token,user,uid,"groups"
    echo "$(openssl rand -hex 32),imcloud-admin,imcloud-admin,\"system:masters\"" > "$PKI/tokens.csv"
  fi
  chmod 600 "$PKI"/*.key "$PKI/tokens.csv"
}

write_kubeconfig() {
  local tmp="$KUBECONFIG_FILE.tmp"
  umask 077
  cat > "$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: imcloud-local
  cluster:
    server: https://127.0.0.1:$PORT
    certificate-authority-data: $(base64 -w0 < "$PKI/ca.crt")
users:
- name: imcloud-admin
  user:
    token: $(admin_token)
contexts:
- name: imcloud-local
  context:
    cluster: imcloud-local
    user: imcloud-admin
current-context: imcloud-local
EOF
  mv -f "$tmp" "$KUBECONFIG_FILE"
}

# -------------------------------------------------------------- start ----

start_etcd() {
  local pid
  pid="$(pid_of etcd)"
  if [[ -n "$pid" ]]; then
    log "etcd already running (pid $pid)"
  else
    port_busy "$ETCD_PORT" && die "127.0.0.1:$ETCD_PORT is in use by another process (set IMCLOUD_KUBE_ETCD_PORT)"
    port_busy "$ETCD_PEER_PORT" && die "127.0.0.1:$ETCD_PEER_PORT is in use by another process (set IMCLOUD_KUBE_ETCD_PEER_PORT)"
    mkdir -p "$ETCD_DATA" "$LOGS"
    chmod 700 "$ETCD_DATA"
    rotate_log "$LOGS/etcd.log"
    log "starting etcd on 127.0.0.1:$ETCD_PORT"
    # --unsafe-no-fsync: test data only, much faster on slow disks.
    GOMEMLIMIT="${IMCLOUD_KUBE_ETCD_GOMEMLIMIT:-256MiB}" setsid "$ETCD_BIN" \
      --name=imcloud \
      --data-dir="$ETCD_DATA" \
      --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
      --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
      --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-cluster="imcloud=http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-cluster-state=new \
      --unsafe-no-fsync \
      --quota-backend-bytes=$((2 * 1024 * 1024 * 1024)) \
      --auto-compaction-mode=periodic --auto-compaction-retention=5m \
      --log-level=warn \
      </dev/null >>"$LOGS/etcd.log" 2>&1 7>&- 8>&- &
    pid=$!
    echo "$pid" > "$STATE_DIR/etcd.pid"
    STARTED+=(etcd)
  fi
  local i
  for ((i = 0; i < 300; i++)); do
    if curl -sf --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      tail_log "$LOGS/etcd.log"
      die "etcd exited during startup (log: $LOGS/etcd.log)"
    fi
    sleep 0.2
  done
  tail_log "$LOGS/etcd.log"
  die "etcd not healthy after 60s (log: $LOGS/etcd.log)"
}

start_apiserver() {
  APISERVER_PID="$(pid_of kube-apiserver)"
  if [[ -n "$APISERVER_PID" ]]; then
    log "kube-apiserver already running (pid $APISERVER_PID)"
    return 0
  fi
  port_busy "$PORT" && die "127.0.0.1:$PORT is in use by another process (set IMCLOUD_KUBE_PORT)"
  mkdir -p "$LOGS"
  rotate_log "$LOGS/kube-apiserver.log"
  local extra=()
  # shellcheck disable=SC2206  # word splitting of the extra flags is intended
  [[ -z "${IMCLOUD_KUBE_APISERVER_ARGS:-}" ]] || extra=(${IMCLOUD_KUBE_APISERVER_ARGS})
  log "starting kube-apiserver $KUBE_VERSION on https://127.0.0.1:$PORT"
  GOMEMLIMIT="${IMCLOUD_KUBE_APISERVER_GOMEMLIMIT:-512MiB}" setsid "$APISERVER_BIN" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --endpoint-reconciler-type=none \
    --secure-port="$PORT" \
    --tls-cert-file="$PKI/apiserver.crt" \
    --tls-private-key-file="$PKI/apiserver.key" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --token-auth-file="$PKI/tokens.csv" \
    --authorization-mode=RBAC \
    --allow-privileged=true \
    --profiling=false \
    --enable-priority-and-fairness=false \
    --event-ttl=10m \
    "${extra[@]}" \
    </dev/null >>"$LOGS/kube-apiserver.log" 2>&1 7>&- 8>&- &
  APISERVER_PID=$!
  echo "$APISERVER_PID" > "$STATE_DIR/kube-apiserver.pid"
  STARTED+=(kube-apiserver)
}

wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT)) body=""
  while ((SECONDS < deadline)); do
    if ! kill -0 "$APISERVER_PID" 2>/dev/null; then
      tail_log "$LOGS/kube-apiserver.log" 60
      die "kube-apiserver exited during startup (log: $LOGS/kube-apiserver.log)"
    fi
    body="$(api_get /readyz 2>/dev/null || true)"
    if [[ "$body" == "ok" ]] && api_get /api/v1/namespaces/default >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  api_get '/readyz?verbose' 2>&1 | grep -v '^\[+\]' >&2 || true
  tail_log "$LOGS/kube-apiserver.log" 60
  die "kube-apiserver not ready after ${READY_TIMEOUT}s (log: $LOGS/kube-apiserver.log)"
}

cmd_up() {
  cmd_install
  mkdir -p "$STATE_DIR"
  exec 7>"$STATE_DIR/.lock"
  flock 7
  gen_pki
  local start=$SECONDS
  trap cleanup_failed_up EXIT
  start_etcd
  start_apiserver
  wait_ready
  write_kubeconfig
  log "ready in $((SECONDS - start))s: https://127.0.0.1:$PORT (KUBECONFIG=$KUBECONFIG_FILE)"
}

cmd_down() {
  [[ -d "$STATE_DIR" ]] || { log "nothing to stop"; return 0; }
  exec 7>"$STATE_DIR/.lock"
  flock 7
  stop_proc kube-apiserver
  stop_proc etcd
  log "stopped"
}

cmd_reset() {
  cmd_down
  rm -rf "$ETCD_DATA"
  log "etcd data deleted ($ETCD_DATA)"
}

cmd_status() {
  local a e ready="no"
  a="$(pid_of kube-apiserver)"
  e="$(pid_of etcd)"
  if [[ -n "$a" && -f "$PKI/tokens.csv" ]] && [[ "$(api_get /readyz 2>/dev/null || true)" == "ok" ]]; then
    ready="yes"
  fi
  if [[ -n "$e" ]]; then e="running (pid $e, http://127.0.0.1:$ETCD_PORT)"; else e="stopped"; fi
  if [[ -n "$a" ]]; then a="running (pid $a, https://127.0.0.1:$PORT)"; else a="stopped"; fi
  echo "etcd:           $e"
  echo "kube-apiserver: $a"
  echo "ready:          $ready"
  echo "kubeconfig:     $KUBECONFIG_FILE$([[ -f "$KUBECONFIG_FILE" ]] || echo ' (not written yet)')"
  [[ "$ready" == "yes" ]] || return 3
}

cmd_kubeconfig() {
  [[ -f "$KUBECONFIG_FILE" ]] || die "no kubeconfig yet: run infra/kube.sh up"
  echo "$KUBECONFIG_FILE"
}

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; }

case "${1:-}" in
  install) cmd_install ;;
  up) cmd_up ;;
  down) cmd_down ;;
  reset) cmd_reset ;;
  status) cmd_status ;;
  kubeconfig) cmd_kubeconfig ;;
  -h|--help|help) usage ;;
  *) usage; exit 2 ;;
esac
