#!/usr/bin/env bash
# Installs uv (if missing) and the workspace's locked dependencies into .venv.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if ! command -v uv >/dev/null 2>&1; then
  # uv comes from PyPI like everything else; the user site keeps root's Python clean.
  python3 -m pip install --quiet --user uv
  export PATH="$HOME/.local/bin:$PATH"
fi
uv sync --frozen --quiet
