"""Validate docker-compose.yml against the Compose specification's JSON schema, offline.

Why: no container engine (or `docker compose`) is needed to catch a misspelt key or a wrong
type; the schema comes from the compose-go Go module (``schema/compose-spec.json``), fetched
and cached by ``go mod download``. Besides the schema, checks what the schema cannot: every
``depends_on`` names a service, services meant to scale publish no fixed host port and set no
``container_name``, the archive runs exactly once, and no top-level ``version:`` key (obsolete in the specification).

    python deploy/tools/validate_compose.py SCHEMA_JSON docker-compose.yml
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCALABLE = ("ingest", "fusion", "alerts", "delivery")
#: Services that must run exactly once (the archive locks its root).
SINGLETONS = ("archive",)


def semantic_errors(doc: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    if "version" in doc:
        errors.append("top-level 'version:' is obsolete in the Compose specification")
    services = doc.get("services", {})
    for name, svc in services.items():
        deps = svc.get("depends_on", {})
        for dep in deps if isinstance(deps, (list, dict)) else []:
            if dep not in services:
                errors.append(f"service {name!r} depends on unknown service {dep!r}")
    for name in SCALABLE:
        svc = services.get(name)
        if svc is None:
            errors.append(f"worker service {name!r} is missing")
            continue
        if "container_name" in svc:
            errors.append(f"service {name!r} sets container_name and cannot be scaled")
        if svc.get("ports"):
            errors.append(f"service {name!r} publishes host ports and cannot be scaled")
    for name in SINGLETONS:
        svc = services.get(name)
        if svc is None:
            errors.append(f"service {name!r} is missing")
        elif svc.get("deploy", {}).get("replicas") != 1:
            errors.append(f"service {name!r} must set deploy.replicas: 1 (it locks its data)")
    return errors


def validate(schema: dict[str, Any], doc: Any) -> list[str]:
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema)
    errors = [
        f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.path)))
    ]
    if isinstance(doc, dict):
        errors += semantic_errors(doc)
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("schema", type=Path, help="compose-spec.json")
    parser.add_argument("compose_files", type=Path, nargs="+")
    args = parser.parse_args(argv)
    schema = json.loads(args.schema.read_text())
    failed = False
    for path in args.compose_files:
        errors = validate(schema, yaml.safe_load(path.read_text()))
        for err in errors:
            print(f"{path}: {err}", file=sys.stderr)
        print(f"{path}: {'INVALID' if errors else 'valid'} against the Compose specification")
        failed |= bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
