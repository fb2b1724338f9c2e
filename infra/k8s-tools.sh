#!/usr/bin/env bash
# infra/k8s-tools.sh: helm v3, kubeconform and promtool built from source with
# the Go module proxy, plus offline Kubernetes JSON schemas for kubeconform.
#
#   infra/k8s-tools.sh install          build helm + kubeconform + promtool (skips
#                                       what is already built at the pinned
#                                       version) and generate the schemas
#   infra/k8s-tools.sh path             print the bin dir (prepend it to PATH)
#   infra/k8s-tools.sh schema-dir       print the schema dir
#   infra/k8s-tools.sh schema-location  print the -schema-location value
#   infra/k8s-tools.sh versions         print the pinned versions
#
# Validating Helm-rendered manifests (works offline, no GitHub downloads):
#
#   infra/k8s-tools.sh install
#   export PATH="$(infra/k8s-tools.sh path):$PATH"
#   helm template imcloud helm/imcloud --kube-version 1.37.0 > /tmp/rendered.yaml
#   kubeconform -strict -summary \
#     -schema-location "$(infra/k8s-tools.sh schema-location)" \
#     -skip ServiceMonitor,PrometheusRule \
#     /tmp/rendered.yaml
#
# schema-location expands to
#   <cache>/kubeconform-schemas/v1.37.0-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json
# (single quotes matter if you write it by hand: the {{ }} are kubeconform's
# template, not the shell's). Only ONE -schema-location is given, so kubeconform
# never falls back to its default GitHub location. Notes:
#   * Core kinds and CRD *definitions* (apiextensions.k8s.io/v1
#     CustomResourceDefinition) have schemas. Custom resources such as
#     monitoring.coreos.com/v1 ServiceMonitor do not: skip them with
#     `-skip ServiceMonitor` (kind) or `-skip monitoring.coreos.com/v1/ServiceMonitor`
#     (apiVersion/kind), or use `-ignore-missing-schemas`, or give them a schema
#     with a second location such as
#     -schema-location '<dir>/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json'
#     (ResourceKind is lower-case, e.g. monitoring.coreos.com/servicemonitor_v1.json).
#   * -strict selects the "-strict" schema set (additionalProperties: false):
#     unknown fields are errors. Drop -strict to allow them.
#   * Schemas come from the PyPI package kubernetes-validate (wheel fetched
#     with pip, not installed), rewritten by infra/kube/kubeconform_schemas.py
#     into self-contained files (the originals $ref an absolute
#     https://kubernetes.io/api/_definitions.json that kubeconform would fetch).
#   * helm is built with the release ldflags, so `.Capabilities.KubeVersion`
#     defaults to v1.37 (not v1.20 as a plain `go install` gives); still pass
#     --kube-version to be explicit.
#
# Environment: IMCLOUD_CACHE_DIR (default ~/.cache/imcloud); binaries go to
# $IMCLOUD_CACHE_DIR/bin, Go's own module/build caches are the usual ones
# (GOMODCACHE/GOCACHE). GO (default: go on PATH, else /usr/local/go/bin/go),
# PYTHON (default python3), IMCLOUD_GO_BUILD_GOGC (GOGC of the Go build, 400).
# From an empty Go cache: helm ~3 min, kubeconform ~6 s, schemas ~3 s,
# promtool ~2 min (128 s wall, 164 CPU-s, module downloads included).
#
# promtool (`promtool check rules`, `promtool test rules` for
# infra/observability/alerts.yaml) is built with the `remove_all_sd` build tag:
# without the service-discovery plugins (AWS, Azure, GCE, Kubernetes, ...),
# which rule checks never use, the cold build halves (246 s wall / 335 CPU-s
# and an 88 MB binary with them, 128 s / 164 CPU-s and 54 MB without).
set -euo pipefail

HELM_VERSION="v3.22.0"          # helm.sh/helm/v3
KUBECONFORM_VERSION="v0.8.0"    # github.com/yannh/kubeconform
PROMTOOL_VERSION="v0.316.0"     # github.com/prometheus/prometheus (= Prometheus v3.16.0)
PROMTOOL_RELEASE="3.16.0"       # what `promtool --version` prints
HELM_K8S_MINOR="37"             # k8s.io/client-go v0.37.x in helm v3.22.0's go.mod
SCHEMA_PKG_VERSION="1.37.0"     # PyPI kubernetes-validate
SCHEMA_KUBE_VERSION="1.37.0"    # schema set inside it

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_DIR="${IMCLOUD_CACHE_DIR:-$HOME/.cache/imcloud}"
[[ "$CACHE_DIR" == /* ]] || CACHE_DIR="$PWD/$CACHE_DIR"
BIN_DIR="$CACHE_DIR/bin"
SCHEMA_DIR="$CACHE_DIR/kubeconform-schemas"

log() { echo "k8s-tools: $*" >&2; }
die() { echo "k8s-tools: error: $*" >&2; exit 1; }

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
  # Never switch toolchains behind our back (the pinned modules need go 1.26).
  export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
}

# Prints the main-module version recorded in a Go binary, or nothing.
built_version() {
  local bin="$1" module="$2"
  [[ -x "$bin" ]] || return 0
  "$GO" version -m "$bin" 2>/dev/null | awk -v m="$module" '$1 == "mod" && $2 == m { print $3; exit }'
}

go_install() { # name module pkg version [ldflags [tags]]
  local name="$1" module="$2" pkg="$3" version="$4" ldflags="${5:-}" tags="${6:-}"
  local have
  have="$(built_version "$BIN_DIR/$name" "$module")"
  if [[ "$have" == "$version" ]]; then
    log "$name $version already built ($BIN_DIR/$name)"
    return 0
  fi
  log "building $name $version (go install $pkg@$version) ..."
  local start=$SECONDS
  GOBIN="$BIN_DIR" CGO_ENABLED=0 GOGC="${IMCLOUD_GO_BUILD_GOGC:-400}" "$GO" install -trimpath -tags="$tags" -ldflags="-s -w $ldflags" "$pkg@$version" \
    || die "go install $pkg@$version failed"
  log "built $name in $((SECONDS - start))s"
}

install_schemas() {
  local stamp="$SCHEMA_DIR/.stamp" want
  want="kubernetes-validate==$SCHEMA_PKG_VERSION kube=$SCHEMA_KUBE_VERSION gen=$(sha256sum "$SCRIPT_DIR/kube/kubeconform_schemas.py" | cut -c1-16)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" \
        && -f "$SCHEMA_DIR/v$SCHEMA_KUBE_VERSION-standalone/networkpolicy-networking-v1.json" \
        && -f "$SCHEMA_DIR/v$SCHEMA_KUBE_VERSION-standalone-strict/networkpolicy-networking-v1.json" ]]; then
    log "schemas for Kubernetes $SCHEMA_KUBE_VERSION already in $SCHEMA_DIR"
    return 0
  fi
  local py="${PYTHON:-python3}" tmp
  command -v "$py" >/dev/null 2>&1 || die "$py not found (needed for the kubeconform schemas)"
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'; trap - RETURN" RETURN
  log "fetching kubernetes-validate==$SCHEMA_PKG_VERSION wheel (schemas only, not installed) ..."
  "$py" -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" \
      "kubernetes-validate==$SCHEMA_PKG_VERSION" \
    || die "pip download kubernetes-validate==$SCHEMA_PKG_VERSION failed"
  local wheel
  wheel="$(find "$tmp" -maxdepth 1 -name 'kubernetes_validate-*.whl' | head -n1)"
  [[ -n "$wheel" ]] || die "pip did not produce a kubernetes_validate wheel in $tmp"
  mkdir -p "$SCHEMA_DIR"
  "$py" "$SCRIPT_DIR/kube/kubeconform_schemas.py" "$wheel" "$SCHEMA_KUBE_VERSION" "$SCHEMA_DIR" >&2 \
    || die "schema generation failed"
  echo "$want" > "$stamp"
}

cmd_install() {
  find_go
  mkdir -p "$BIN_DIR"
  # Serialise concurrent installs (CI steps, parallel test sessions).
  exec 9>"$CACHE_DIR/.k8s-tools.lock"
  flock 9
  go_install helm helm.sh/helm/v3 helm.sh/helm/v3/cmd/helm "$HELM_VERSION" \
    "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.metadata= -X helm.sh/helm/v3/internal/version.gitTreeState=clean -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$HELM_K8S_MINOR -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM_K8S_MINOR"
  go_install kubeconform github.com/yannh/kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION" \
    "-X main.version=$KUBECONFORM_VERSION"
  go_install promtool github.com/prometheus/prometheus github.com/prometheus/prometheus/cmd/promtool "$PROMTOOL_VERSION" \
    "-X github.com/prometheus/common/version.Version=$PROMTOOL_RELEASE -X github.com/prometheus/common/version.Branch=release -X github.com/prometheus/common/version.Revision=$PROMTOOL_VERSION" \
    remove_all_sd
  install_schemas
  "$BIN_DIR/helm" version --short >/dev/null || die "$BIN_DIR/helm does not run"
  "$BIN_DIR/kubeconform" -v >/dev/null || die "$BIN_DIR/kubeconform does not run"
  "$BIN_DIR/promtool" --version >/dev/null || die "$BIN_DIR/promtool does not run"
  log "ok: helm $HELM_VERSION, kubeconform $KUBECONFORM_VERSION, promtool $PROMTOOL_RELEASE in $BIN_DIR; schemas in $SCHEMA_DIR"
}

usage() {
  sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

case "${1:-}" in
  install) cmd_install ;;
  path) echo "$BIN_DIR" ;;
  schema-dir) echo "$SCHEMA_DIR" ;;
  schema-location)
    echo "$SCHEMA_DIR/v$SCHEMA_KUBE_VERSION-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json" ;;
  versions)
    echo "helm $HELM_VERSION"
    echo "kubeconform $KUBECONFORM_VERSION"
    echo "promtool $PROMTOOL_RELEASE (github.com/prometheus/prometheus $PROMTOOL_VERSION, -tags remove_all_sd)"
    echo "kubernetes-validate $SCHEMA_PKG_VERSION (schemas for Kubernetes $SCHEMA_KUBE_VERSION)" ;;
  -h|--help|help) usage ;;
  *) usage; exit 2 ;;
esac
