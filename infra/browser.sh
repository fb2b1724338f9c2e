#!/usr/bin/env bash
# The browser the console's tests drive: Debian's chromium (Playwright's own
# browser download cannot be fetched here) and a font, so screenshots show text.
#   infra/browser.sh install|status
# IMCLOUD_CHROMIUM points the tests at another binary (default /usr/bin/chromium).
set -euo pipefail
SCRIPT_NAME=browser
# shellcheck source=infra/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CHROMIUM="${IMCLOUD_CHROMIUM:-/usr/bin/chromium}"
PACKAGES=(chromium fonts-dejavu-core)

missing_packages() {
  local package
  for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || echo "$package"
  done
}

# Prints the version line of the binary, which also proves it starts.
version() {
  [[ -x "$CHROMIUM" ]] || die "no chromium at $CHROMIUM (run infra/browser.sh install)"
  "$CHROMIUM" --headless --no-sandbox --version 2>/dev/null || die "$CHROMIUM does not start"
}

install() {
  take_lock
  local missing
  missing="$(missing_packages)"
  if [[ -n "$missing" && "$CHROMIUM" == /usr/bin/chromium ]]; then
    echo "[$SCRIPT_NAME] installing $(echo "$missing" | tr '\n' ' ')from Debian (a minute on first use)" >&2
    # shellcheck disable=SC2086  # one package a word
    apt_install $missing
  else
    say "chromium and fonts already installed"
  fi
  version
}

case "${1:-}" in
  install) install ;;
  status) version ;;
  *) echo "usage: $0 install|status" >&2; exit 2 ;;
esac
