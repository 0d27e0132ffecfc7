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
