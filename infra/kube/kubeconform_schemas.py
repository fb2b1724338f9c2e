#!/usr/bin/env python3
"""Build offline, self-contained JSON schemas for kubeconform.

Input: the wheel of the PyPI package ``kubernetes-validate`` (it bundles the
Kubernetes OpenAPI schemas as JSON schema files, one per type, in the
``<kind>[-<group>]-<version>.json`` naming of yannh/kubernetes-json-schema).
Its files reference a shared ``/api/_definitions.json`` through an absolute
``$ref`` (resolved against ``$id`` = https://kubernetes.io/api/...), which
kubeconform would try to fetch over HTTP. This script writes, for every
top-level kind (a schema with ``x-kubernetes-group-version-kind``), a
standalone copy that carries the definitions it needs under ``$defs`` and uses
local ``#/$defs/...`` references only.

Output layout (mirrors the upstream kubeconform schema repository):

    <out>/v<ver>-standalone/<kind>[-<group>]-<version>.json
    <out>/v<ver>-standalone-strict/...      (additionalProperties: false)

so kubeconform can use (one line)
    -schema-location
    '<out>/v<ver>-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json'

Usage: kubeconform_schemas.py WHEEL KUBE_VERSION OUT_DIR
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import zipfile
from typing import Any

REF_PREFIXES = ("/api/_definitions.json#/$defs/", "#/$defs/")


def _collect_refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                for prefix in REF_PREFIXES:
                    if value.startswith(prefix):
                        out.add(value[len(prefix) :])
                        break
                else:
                    raise ValueError(f"unsupported $ref {value!r}")
            else:
                _collect_refs(value, out)
    elif isinstance(node, list):
        for item in node:
            _collect_refs(item, out)


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIXES[0]):
                value = "#/$defs/" + value[len(REF_PREFIXES[0]) :]
            result[key] = _rewrite_refs(value)
        return result
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


def _closure(defs: dict[str, Any], roots: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in defs:
            raise KeyError(f"definition {name} not found")
        seen.add(name)
        refs: set[str] = set()
        _collect_refs(defs[name], refs)
        todo.extend(refs - seen)
    return seen


def convert(zf: zipfile.ZipFile, src_prefix: str, dst_dir: str) -> int:
    defs = json.loads(zf.read(src_prefix + "_definitions.json"))["$defs"]
    count = 0
    for name in sorted(zf.namelist()):
        if not name.startswith(src_prefix) or not name.endswith(".json"):
            continue
        base = name[len(src_prefix) :]
        if "/" in base or base in ("_definitions.json", "all.json"):
            continue
        schema = json.loads(zf.read(name))
        if "x-kubernetes-group-version-kind" not in schema:
            continue  # a nested type, never looked up by kubeconform
        roots: set[str] = set()
        _collect_refs(schema, roots)
        needed = _closure(defs, roots)
        out = _rewrite_refs(schema)
        out.pop("$id", None)
        if needed:
            out["$defs"] = {n: _rewrite_refs(defs[n]) for n in sorted(needed)}
        with open(os.path.join(dst_dir, base), "w", encoding="utf-8") as fh:
            json.dump(out, fh, separators=(",", ":"))
        count += 1
    return count


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    wheel, version, out_dir = argv[1], argv[2].lstrip("v"), argv[3]
    os.makedirs(out_dir, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        for suffix in ("", "-strict"):
            src_prefix = f"kubernetes_validate/kubernetes-json-schema/v{version}-local{suffix}/"
            if not any(n.startswith(src_prefix) for n in zf.namelist()):
                print(f"error: {wheel} has no schemas for Kubernetes v{version}", file=sys.stderr)
                return 1
            final = os.path.join(out_dir, f"v{version}-standalone{suffix}")
            tmp = tempfile.mkdtemp(prefix=".tmp-", dir=out_dir)
            try:
                n = convert(zf, src_prefix, tmp)
                if os.path.isdir(final):
                    shutil.rmtree(final)
                os.rename(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            print(f"wrote {n} schemas to {final}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
