#!/usr/bin/env bash
# Regenerates the Python contracts package (libs/contracts/imcloud) from proto/.
#   infra/gen-proto.sh          write the generated code
#   infra/gen-proto.sh --check  fail when the committed code differs from proto/
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Generate aside and swap in at the end, so the package is never half-written
# while other processes import it.
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mapfile -t protos < <(cd proto && find imcloud -name '*.proto' | sort)
uv run --frozen --quiet python -m grpc_tools.protoc -I proto \
  --python_out="$out" --grpc_python_out="$out" \
  --mypy_out="$out" --mypy_grpc_out="$out" \
  "${protos[@]}" 2> >(grep -v "^Writing mypy" >&2)
# Regular packages (not namespace packages) so mypy and hatchling find them.
find "$out/imcloud" -type d -exec touch {}/__init__.py \;
touch "$out/imcloud/py.typed"

if [[ ${1:-} == --check ]]; then
  if ! diff -r -q -x __pycache__ libs/contracts/imcloud "$out/imcloud"; then
    echo "libs/contracts/imcloud is stale: run 'make proto' and commit the result" >&2
    exit 1
  fi
  echo "generated contracts are up to date"
else
  rm -rf libs/contracts/imcloud.old
  mv libs/contracts/imcloud libs/contracts/imcloud.old
  mv "$out/imcloud" libs/contracts/imcloud
  rm -rf libs/contracts/imcloud.old
fi
