"""Configured secrets are masked in every log line, wherever in the line they appear."""

from __future__ import annotations

import logging

from streams import redaction
from streams.commands.common import JsonFormatter
from streams.settings import load_settings


def _line(msg: str, *args: object, exc: BaseException | None = None, **extra: object) -> str:
    record = logging.LogRecord("kafka.admin.client", logging.DEBUG, __file__, 1, msg, args,
                               (type(exc), exc, None) if exc else None)
    for k, v in extra.items():
        setattr(record, k, v)
    return JsonFormatter().format(record)


def test_registered_secrets_are_masked_in_message_args_fields_and_tracebacks() -> None:
    pw, key = "pw-Zq81-only-here", 'k"ey\\with-escapes'
    redaction.register(pw, key.encode(), None, "short")
    line = _line("Starting KafkaAdminClient with configuration: %s",
                 {"sasl_plain_password": pw, "x": 1}, exc=RuntimeError(f"auth {pw} refused"),
                 config={"hmac_key": key})
    assert pw not in line and "k\\\"ey" not in line and "with-escapes" not in line
    assert line.count("***") >= 3
    assert "sasl_plain_password" in line  # only the value goes
    # a value shorter than MIN_LEN is not a secret worth masking words for
    assert "short" in _line("a short message")


def test_settings_name_their_secret_values() -> None:
    s = load_settings(env={"BORDERFUSION_KAFKA_SASL_PASSWORD": "sasl-0b7c-pw"})
    assert s.secret_values() == ("sasl-0b7c-pw",)
    assert load_settings(env={}).secret_values() == ()
