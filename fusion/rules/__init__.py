"""Alert rules (DESIGN §6), one small module per rule, configured from ``rules.yaml``.

``rules.yaml`` (a dict) has two optional sections::

    engine:            # alert lifecycle knobs, see fusion.alerts.ENGINE_DEFAULTS
      suppress_after_dismiss_s: 600
    rules:             # one entry per rule name; omitted rules run with their defaults
      approach: {threshold_s: 90}
      ais_silence: {enabled: false}

The shipped defaults, documented key by key, are ``default_rules.yaml`` beside this file.
An unknown rule or key is an error naming it.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from fusion.rules.ais_anomaly import AisDuplicateMmsi, AisJump, AisSilence
from fusion.rules.approach import Approach
from fusion.rules.base import Batch, Context, Hit, Rule, RuleConfigError
from fusion.rules.corroboration import Corroboration
from fusion.rules.crossing import BorderCrossing
from fusion.rules.dark_vessel import DarkVessel
from fusion.rules.loitering import Loitering
from fusion.rules.rendezvous import Rendezvous
from fusion.rules.restricted import RestrictedEntry
from fusion.rules.sensor_silence import SensorSilence

__all__ = [
    "RULE_CLASSES",
    "Batch",
    "Context",
    "Hit",
    "Rule",
    "RuleConfigError",
    "build_rules",
    "default_rules_config",
    "load_rules_file",
]

RULE_CLASSES: dict[str, type[Rule]] = {
    cls.name: cls
    for cls in (
        BorderCrossing,
        Approach,
        RestrictedEntry,
        DarkVessel,
        AisJump,
        AisDuplicateMmsi,
        AisSilence,
        Loitering,
        Rendezvous,
        Corroboration,
        SensorSilence,
    )
}


def default_rules_config() -> dict[str, Any]:
    """The shipped ``default_rules.yaml`` as a dict."""
    text = resources.files("fusion.rules").joinpath("default_rules.yaml").read_text("utf-8")
    return dict(yaml.safe_load(text) or {})


def load_rules_file(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        cfg = yaml.safe_load(fh) or {}
    if not isinstance(cfg, dict):
        raise RuleConfigError(f"{path}: rules file must be a mapping with 'rules:'/'engine:'")
    return cfg


def build_rules(cfg: dict[str, Any] | None) -> dict[str, Rule]:
    """All known rules, configured from ``cfg['rules']`` over their defaults (disabled ones too,
    so a reload can switch them on without losing their place)."""
    cfg = dict(cfg or {})
    unknown_top = sorted(set(cfg) - {"rules", "engine"})
    if unknown_top:
        raise RuleConfigError(f"rules config: unknown section(s) {unknown_top}")
    section = cfg.get("rules") or {}
    if not isinstance(section, dict):
        raise RuleConfigError("rules config: 'rules' must be a mapping of rule name → settings")
    unknown = sorted(set(section) - set(RULE_CLASSES))
    if unknown:
        raise RuleConfigError(
            f"rules config: unknown rule(s) {unknown}; known: {sorted(RULE_CLASSES)}"
        )
    out = {}
    for name, cls in RULE_CLASSES.items():
        entry = section.get(name) or {}
        if not isinstance(entry, dict):
            raise RuleConfigError(f"rule {name!r}: settings must be a mapping")
        out[name] = cls(entry)
    return out
