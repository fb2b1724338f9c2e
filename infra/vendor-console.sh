#!/usr/bin/env bash
# Refreshes the console's vendored browser libraries from the npm registry.
# They are committed (the console works with no internet and no Node at run time);
# run this only to move to another version, then review the diff and commit it.
#   infra/vendor-console.sh            fetch the pinned versions into the package
set -euo pipefail
SCRIPT_NAME=vendor-console
# shellcheck source=infra/common.sh
source "$(dirname "$0")/common.sh"

UPLOT_VERSION=1.6.32
UPLOT_SHA256=4b8a8191e425658e3ea8c8c1314b0fc679c861ee3a1af2b20c7b16ba50b5133d
VENDOR="$REPO_ROOT/services/gateway/imcloud_gateway/api/http/console/static/vendor"

need npm "apt-get install npm"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "[$SCRIPT_NAME] fetching uplot@$UPLOT_VERSION from the npm registry" >&2
(cd "$work" && npm pack --silent "uplot@$UPLOT_VERSION" >/dev/null)
echo "$UPLOT_SHA256  $work/uplot-$UPLOT_VERSION.tgz" | sha256sum --check --quiet \
  || die "uplot-$UPLOT_VERSION.tgz does not match its pinned sha256"
tar -xzf "$work/uplot-$UPLOT_VERSION.tgz" -C "$work"
cp "$work/package/dist/uPlot.iife.min.js" "$work/package/dist/uPlot.min.css" "$VENDOR/"
cp "$work/package/LICENSE" "$VENDOR/uPlot.LICENSE"
echo "[$SCRIPT_NAME] uPlot $UPLOT_VERSION in $VENDOR" >&2
