"""Turn the Kubernetes OpenAPI v2 spec into kubeconform's "standalone-strict" JSON schemas.

Why: kubeconform's default schema catalogue is a GitHub download this build must not need.
The same OpenAPI spec ships in the ``k8s.io/kubernetes`` Go module
(``api/openapi-spec/swagger.json``), which ``go mod download`` fetches through the Go module
proxy and caches, so the schemas can be generated offline and reproducibly.

The conversion follows what kubeconform's own schemas do: every ``$ref`` is inlined
("standalone"), objects with declared properties reject unknown keys ("strict"),
``int-or-string`` becomes ``oneOf: [string, integer]`` and optional fields accept ``null``.
Output names follow kubeconform's template ``{{.ResourceKind}}{{.KindSuffix}}.json``, e.g.
``deployment-apps-v1.json`` and ``service-v1.json``.

    python deploy/tools/k8s_schemas.py SWAGGER_JSON OUT_DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REF_PREFIX = "#/definitions/"


def kind_file_name(group: str, version: str, kind: str) -> str:
    """kubeconform's ``{{.ResourceKind}}{{.KindSuffix}}.json`` for one group/version/kind."""
    suffix = f"-{version}" if not group else f"-{group.split('.')[0]}-{version}"
    return f"{kind.lower()}{suffix.lower()}.json"


class Expander:
    """Inline ``$ref``s of one OpenAPI definitions table; cycles become ``{}`` (accept any)."""

    def __init__(self, definitions: dict[str, Any]) -> None:
        self.definitions = definitions

    def expand(self, node: Any, stack: tuple[str, ...] = ()) -> Any:
        if isinstance(node, list):
            return [self.expand(x, stack) for x in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            name = ref[len(REF_PREFIX) :]
            if name in stack:  # recursive type (JSONSchemaProps): do not unroll forever
                return {}
            target = dict(self.definitions[name])
            target.update({k: v for k, v in node.items() if k != "$ref"})
            return self.expand(target, stack + (name,))
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                out[key] = {p: self.expand(s, stack) for p, s in value.items()}
            elif key in ("items", "additionalProperties", "allOf", "anyOf", "oneOf", "not"):
                out[key] = self.expand(value, stack)
            else:
                out[key] = value
        if out.get("format") == "int-or-string":
            return {k: v for k, v in out.items() if k not in ("type", "format")} | {
                "oneOf": [{"type": "string"}, {"type": "integer"}]
            }
        return out


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return schema | {"type": [kind, "null"]}
    if "oneOf" in schema:
        return schema | {"oneOf": [*schema["oneOf"], {"type": "null"}]}
    return schema


def strict(node: Any) -> Any:
    """Reject unknown keys where properties are declared; let optional fields be null."""
    if isinstance(node, list):
        return [strict(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) if k != "properties" else v for k, v in node.items()}
    props = node.get("properties")
    if isinstance(props, dict):
        required = set(node.get("required", []))
        out["properties"] = {
            name: strict(s) if name in required else _nullable(strict(s))
            for name, s in props.items()
        }
        out.setdefault("additionalProperties", False)
    return out


def convert(swagger: dict[str, Any], out_dir: Path) -> int:
    definitions = swagger["definitions"]
    expander = Expander(definitions)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for name, definition in definitions.items():
        gvks = definition.get("x-kubernetes-group-version-kind") or []
        if not gvks or "kind" not in definition.get("properties", {}):
            continue
        schema = strict(expander.expand(definition, (name,)))
        schema["$schema"] = "http://json-schema.org/schema#"
        for gvk in gvks:
            path = out_dir / kind_file_name(gvk.get("group", ""), gvk["version"], gvk["kind"])
            path.write_text(json.dumps(schema, separators=(",", ":")))
            written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("swagger", type=Path, help="api/openapi-spec/swagger.json")
    parser.add_argument(
        "out_dir", type=Path, help="e.g. .cache/k8s-schemas/v1.34.4-standalone-strict"
    )
    args = parser.parse_args(argv)
    count = convert(json.loads(args.swagger.read_text()), args.out_dir)
    print(f"wrote {count} schemas to {args.out_dir}", file=sys.stderr)
    return 0 if count else 1


if __name__ == "__main__":
    sys.exit(main())
