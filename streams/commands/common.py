"""Helpers the subcommands share: settings, logging, flag groups, command groups, input."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from streams import redaction
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
        return redaction.redact(json.dumps(out, default=str))


# Client libraries that print their configuration (SASL password included) at DEBUG: they
# stay at INFO whatever the root level, so no secret reaches a log.
QUIET_LOGGERS = ("kafka", "aiokafka")


def setup_logging(level: str = "INFO", secrets: tuple[str, ...] = ()) -> None:
    """JSON lines on stderr at ``level``; ``secrets`` (and any registered later,
    ``streams.redaction``) are masked in every line."""
    redaction.register(*secrets)
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
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        help="Kafka bootstrap servers (default: BORDERFUSION_KAFKA_BOOTSTRAP)",
    )
    parser.add_argument(
        "--topic-prefix",
        metavar="PREFIX",
        help="topic name prefix (default: BORDERFUSION_TOPIC_PREFIX)",
    )


def bootstrap_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings overrides of the flags :func:`add_bootstrap_flag` adds."""
    return {"kafka_bootstrap": args.bootstrap, "topic_prefix": args.topic_prefix}


def formatter() -> type[argparse.HelpFormatter]:
    return argparse.RawDescriptionHelpFormatter


def add_config_file_flags(parser: argparse.ArgumentParser) -> None:
    """``--sensors``/``--zones`` for commands that rebuild the pipeline offline."""
    parser.add_argument("--sensors", type=Path, help="sensors.yaml (default: configured file)")
    parser.add_argument("--zones", type=Path, help="zones.geojson (default: configured file)")


def command_group(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    *,
    dest: str,
    metavar: str,
    **parser_kwargs: Any,
) -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:  # type: ignore[type-arg]
    """A command made of subcommands (``ais decode``, ``archive verify``…).

    Run without a subcommand it prints its help and exits 2, like ``borderfusion`` alone.
    """
    parser_kwargs.setdefault("formatter_class", formatter())
    parser: argparse.ArgumentParser = sub.add_parser(name, **parser_kwargs)
    actions = parser.add_subparsers(dest=dest, metavar=metavar)

    def usage(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=usage)
    return parser, actions


@contextlib.contextmanager
def open_input(path: str, errors: str = "strict") -> Iterator[TextIO]:
    """``-`` is stdin (left open: it is not ours); anything else a UTF-8 text file."""
    if path == "-":
        yield sys.stdin
        return
    with open(path, encoding="utf-8", errors=errors) as fh:
        yield fh
