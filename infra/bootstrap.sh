#!/usr/bin/env bash
# Installs uv (if missing) and the workspace's locked dependencies into .venv.
#
# Works from Debian's own python3 (PEP 668: no pip installs into it): uv goes
# into a virtual environment of its own under the cache, linked from
# ~/.local/bin/uv, so nothing is installed into the system's Python.
set -euo pipefail
SCRIPT_NAME=bootstrap
# shellcheck source=infra/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

# Always shown: a first install takes a minute or two and should say so.
step() { echo "[bootstrap] $*" >&2; }

find_uv() {
  command -v uv 2>/dev/null || { [[ -x "$HOME/.local/bin/uv" ]] && echo "$HOME/.local/bin/uv"; }
}

install_uv() {
  need python3 "Debian: apt-get install python3"
  local tools="$CACHE_DIR/uv-tool"
  if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    step "installing python3-venv (Debian's package, needed to install uv)"
    apt_install python3-venv
  fi
  step "installing uv into $tools (from the Python package index)"
  rm -rf "$tools"
  python3 -m venv "$tools"
  "$tools/bin/python" -m pip install --disable-pip-version-check --progress-bar on uv >&2
  mkdir -p "$HOME/.local/bin"
  ln -sf "$tools/bin/uv" "$HOME/.local/bin/uv"
  step "uv is at ~/.local/bin/uv"
}

uv=$(find_uv) || { install_uv; uv="$HOME/.local/bin/uv"; }

# Bytecode is compiled once here: every process the platform and the tests start
# would otherwise compile its imports again wherever PYTHONDONTWRITEBYTECODE is
# set (CI machines and our image set it), 6.5 s of CPU for the four services.
if [[ -d .venv ]]; then
  "$uv" sync --frozen --quiet --compile-bytecode
else
  step "installing the locked dependencies into .venv and compiling them (first run only)"
  "$uv" sync --frozen --compile-bytecode
  step "done: the imcloud command is .venv/bin/imcloud"
fi
# The workspace's own packages are installed editable, so uv leaves them out.
.venv/bin/python -m compileall -q -j 0 libs services tests > /dev/null
