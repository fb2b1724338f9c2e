"""The request bodies Swagger UI fills in from the OpenAPI document: a schema's own
example, else each property's example, default or a placeholder of its type."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

PLACEHOLDERS: dict[str, Any] = {
    "string": "string",
    "integer": 0,
    "number": 0,
    "boolean": True,
}


def example_of(schema: dict[str, Any], document: dict[str, Any]) -> Any:
    for key in ("example", "examples"):
        if key in schema:
            value = schema[key]
            return value[0] if key == "examples" and isinstance(value, list) else value
    if schema.get("default") is not None:
        return schema["default"]
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return example_of(document["components"]["schemas"][name], document)
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("format") == "date-time":
        return datetime.now(UTC).isoformat().replace("+00:00", "Z")
    if "anyOf" in schema or "oneOf" in schema:
        options = [
            s for s in schema.get("anyOf", schema.get("oneOf", [])) if s.get("type") != "null"
        ]
        return example_of(options[0], document)
    if "allOf" in schema:
        return example_of(schema["allOf"][0], document)
    kind = schema.get("type", "object")
    if kind == "object":
        return {
            name: example_of(prop, document) for name, prop in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [example_of(schema.get("items", {}), document)]
    return PLACEHOLDERS[kind]


def request_example(document: dict[str, Any], method: str, path: str) -> Any:
    body = document["paths"][path][method]["requestBody"]["content"]["application/json"]
    return example_of(body["schema"], document)
