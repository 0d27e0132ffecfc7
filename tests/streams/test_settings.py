from __future__ import annotations

from pathlib import Path

import pytest

from streams.settings import SettingsError, load_settings


def test_defaults_then_yaml_then_env_then_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "bf.yaml"
    cfg.write_text("partitions: 6\ntopic_prefix: yaml.\nweb_port: 7000\n")
    s = load_settings(cfg, env={"BORDERFUSION_TOPIC_PREFIX": "env."}, web_port=7100)
    assert s.partitions == 6            # from YAML
    assert s.topic_prefix == "env."     # env beats YAML
    assert s.web_port == 7100           # explicit flag beats both
    assert s.kafka_bootstrap == "127.0.0.1:9092"  # default
    assert s.topic("alerts") == "env.alerts"


def test_unknown_and_badly_typed_settings_are_named() -> None:
    with pytest.raises(SettingsError, match="BORDERFUSION_PARTITON"):
        load_settings(env={"BORDERFUSION_PARTITON": "3"})
    with pytest.raises(SettingsError, match="cannot read 'many' as int"):
        load_settings(env={"BORDERFUSION_PARTITIONS": "many"})


def test_config_file_via_env_and_secret_masking(tmp_path: Path) -> None:
    cfg = tmp_path / "bf.yaml"
    cfg.write_text("kafka_sasl_password: hunter2\nsensors_file: /etc/bf/sensors.yaml\n")
    s = load_settings(env={"BORDERFUSION_CONFIG": str(cfg)})
    assert s.sensors_file == Path("/etc/bf/sensors.yaml")
    shown = s.redacted()
    assert shown["kafka_sasl_password"] == "***"
    assert "hunter2" not in repr(shown)
    with pytest.raises(SettingsError, match="unknown setting 'colour'"):
        cfg.write_text("colour: blue\n")
        load_settings(cfg, env={})


def test_offline_context_uses_the_worker_defaults(tmp_path: Path) -> None:
    """The offline replay builds its Context without settings: its fusion/ingest knobs must
    be the worker's defaults (one source of truth), and a worker passes its own through."""
    import dataclasses

    from sensors.simulate import build_scenario, write_scenario
    from streams.engine import Context
    from streams.settings import Settings

    write_scenario(build_scenario(seed=1, duration=10, layout="forest"), tmp_path)
    s = Settings()
    ctx = Context.from_scenario(tmp_path)
    pairs = {"reorder_window_s": "reorder_window_s", "bucket_s": "fusion_bucket_s",
             "sensor_idle_s": "fusion_sensor_idle_s",
             "late_tolerance_s": "fusion_late_tolerance_s",
             "max_reading_age_s": "max_reading_age_s"}
    assert {f: getattr(ctx, f) for f in pairs} == {f: getattr(s, n) for f, n in pairs.items()}
    assert ctx.sectorizer.halo_m == s.halo_m
    bare = Context(ctx.registry, ctx.sectorizer)  # the dataclass defaults too
    assert {f: getattr(bare, f) for f in pairs} == {f: getattr(s, n) for f, n in pairs.items()}
    changed = dataclasses.replace(
        s, sensors_file=tmp_path / "sensors.yaml", fusion_bucket_s=1.0, batch_within_s=0.2,
        fusion_sensor_idle_s=0.0, fusion_late_tolerance_s=1.5, reorder_window_s=3.0,
        max_reading_age_s=0.0)
    live = Context.from_settings(changed)
    assert {f: getattr(live, f) for f in pairs} == {f: getattr(changed, n)
                                                    for f, n in pairs.items()}
    with pytest.raises(RuntimeError, match="SENSORS_FILE"):
        Context.from_settings(s)
