"""Helpers every subcommand shares: settings from --config plus flags, logging setup."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Any

from streams.settings import Settings, SettingsError, load_settings


class JsonFormatter(logging.Formatter):
    """One JSON object per log line: structured logs a collector can index."""

    RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self.RESERVED and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


# Client libraries that print their configuration (SASL password included) at DEBUG: they
# stay at INFO whatever the root level, so no secret reaches a log.
QUIET_LOGGERS = ("kafka", "aiokafka")


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))


def settings_from_args(args: argparse.Namespace, **overrides: Any) -> Settings:
    try:
        return load_settings(getattr(args, "config", None), **overrides)
    except SettingsError as exc:
        raise SystemExit(f"borderfusion: {exc}") from exc


def add_bootstrap_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap", metavar="HOST:PORT",
                        help="Kafka bootstrap servers (default: BORDERFUSION_KAFKA_BOOTSTRAP)")
    parser.add_argument("--topic-prefix", metavar="PREFIX",
                        help="topic name prefix (default: BORDERFUSION_TOPIC_PREFIX)")


def formatter() -> type[argparse.HelpFormatter]:
    return argparse.RawDescriptionHelpFormatter
