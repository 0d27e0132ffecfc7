"""A running worker picks up an edited rules file; a broken edit changes nothing."""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import REGISTRY

from streams.engine import AlertStage, Context
from streams.rules_watch import RulesFile

SENSORS = """\
sensors:
  - {id: R1, type: radar, lat: 51.5, lon: 30.5}
"""


def _reloads(result: str) -> float:
    return REGISTRY.get_sample_value("borderfusion_rules_reloads_total", {"result": result}) or 0.0


def _write(path: Path, text: str, bump_ns: int) -> None:
    """Write ``text`` and give the file a distinct mtime (an edit in the same clock tick
    would otherwise look unchanged on coarse filesystems)."""
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump_ns))


def test_an_edited_rules_file_applies_and_a_broken_edit_keeps_the_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    _write(rules, "rules:\n  border_crossing: {enabled: true}\n", 0)
    (tmp_path / "sensors.yaml").write_text(SENSORS)
    ctx = Context.from_files(tmp_path / "sensors.yaml", None, rules)
    stage = AlertStage(ctx)
    engine = stage.engine("s1")
    watch = RulesFile(rules, check_s=2.0)
    assert watch.poll(now=100.0) is None  # unchanged since start

    _write(rules, "rules:\n  border_crossing: {enabled: false}\n  approach: {threshold_s: 40}\n",
           10**9)
    assert watch.poll(now=101.0) is None  # looked at 100.0: not again before 102.0
    edited = watch.poll(now=102.0)
    assert edited is not None
    stage.reload_rules(edited)
    assert engine.rules["border_crossing"].enabled is False
    assert engine.rules["approach"].cfg["threshold_s"] == 40
    assert stage.engine("s2").rules["border_crossing"].enabled is False  # new sectors too

    errors = _reloads("error")
    _write(rules, "rules:\n  no_such_rule: {}\n", 2 * 10**9)  # does not validate
    assert watch.poll(now=104.0) is None
    _write(rules, "rules: [unclosed\n", 3 * 10**9)  # does not parse
    assert watch.poll(now=106.0) is None
    assert _reloads("error") == errors + 2
    assert watch.poll(now=108.0) is None  # the same broken version is not re-read
    assert _reloads("error") == errors + 2
    assert engine.rules["approach"].cfg["threshold_s"] == 40  # the rules in force stayed

    ok = _reloads("ok")
    _write(rules, "rules:\n  border_crossing: {enabled: true}\n", 4 * 10**9)  # mended
    mended = watch.poll(now=110.0)
    assert mended is not None and _reloads("ok") == ok + 1
    stage.reload_rules(mended)
    assert engine.rules["border_crossing"].enabled is True


def test_no_rules_file_is_never_polled(tmp_path: Path) -> None:
    assert RulesFile(None).poll(now=1e9) is None
