"""HTTP ingest (aiohttp): ``POST /ingest/{kind}``, ``GET /healthz``, ``GET /metrics``.

Status codes say who must act: 400 the body is unreadable (fix the sender), 401 no valid
token or signature, 403 the token may report for none of the readings, 413 the body is over
the limit, 429 slow down (``Retry-After``), 503 neither Kafka nor the spool took the
readings (retry; nothing was accepted). Otherwise 200 with per-record results, also when
some records were rejected (a 207-style body): ``{"accepted": n, "spooled": m,
"rejected": [{"index", "field", "reason", "message"}]}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sensors.gateway.auth import TokenStore
from sensors.gateway.core import KINDS, IngestCore
from sensors.gateway.forward import ForwardError
from sensors.gateway.ratelimit import RateLimiter
from sensors.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_READINGS = 10_000


class BodyError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def parse_body(body: bytes) -> tuple[list[Any], list[str]]:
    """Readings and their raw text from a JSON array or JSON lines; :class:`BodyError` if not."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = body[: exc.start].count(b"\n") + 1
        raise BodyError(bad_line, "not UTF-8") from exc
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise BodyError(getattr(exc, "lineno", 1), f"not JSON: {_json_reason(exc)}") from exc
        if not isinstance(doc, list):
            raise BodyError(1, "expected a JSON array or JSON lines")
        return doc, [json.dumps(r, separators=(",", ":")) for r in doc]
    readings: list[Any] = []
    raws: list[str] = []
    for n, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line:
            continue
        try:
            readings.append(json.loads(line))
        except (ValueError, RecursionError) as exc:
            raise BodyError(n, f"not JSON: {_json_reason(exc)}") from exc
        raws.append(line)
    if not readings:
        raise BodyError(1, "no readings in the body")
    return readings, raws


def _json_reason(exc: Exception) -> str:
    """The decoder's own words where it has them; nesting or number-size limits otherwise."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} (column {exc.colno})"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)


@dataclass(slots=True)
class HttpConfig:
    max_body_bytes: int = MAX_BODY_BYTES
    max_readings: int = MAX_READINGS
    rate_per_s: float = 50.0  # requests per second per token
    burst: float = 100.0
    # mutual TLS (sensors/tls.py): ingest only from a connection that presented a
    # client certificate (the TLS layer has verified it); /healthz and /metrics stay open to
    # probes and Prometheus, which hold none
    require_client_cert: bool = False


def _peer_certificate(request: web.Request) -> bool:
    """Whether the connection presented a (verified) client certificate."""
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    return ssl_object is not None and bool(ssl_object.getpeercert())


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def make_app(
    core: IngestCore,
    tokens: TokenStore,
    config: HttpConfig | None = None,
    health: Callable[[], dict[str, Any]] | None = None,
    metrics: Callable[[], tuple[bytes, str]] | None = None,
) -> web.Application:
    """The aiohttp application; ``health`` and ``metrics`` supply the GET endpoints' bodies."""
    cfg = config or HttpConfig()
    limiter = RateLimiter(cfg.rate_per_s, cfg.burst)

    async def ingest(request: web.Request) -> web.Response:
        received = time.time()
        kind = request.match_info["kind"]
        if kind not in KINDS:
            return _error(404, f"unknown reading kind {kind!r}; one of {', '.join(KINDS)}")
        if cfg.require_client_cert and not _peer_certificate(request):
            return _error(
                401, "a client certificate signed by the gateway's client CA is needed (mutual TLS)"
            )
        cred = tokens.authenticate(request.headers.get("Authorization"))
        if cred is None:
            return web.json_response(
                {"error": "missing or invalid token (Authorization: Bearer <token>)"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="borderfusion"'},
            )
        wait = limiter.take(cred.name, cred.rate_per_s, cred.burst)
        if wait > 0:
            return web.json_response(
                {"error": "rate limit exceeded"},
                status=429,
                headers={"Retry-After": str(max(1, round(wait)))},
            )
        if request.content_length is not None and request.content_length > cfg.max_body_bytes:
            return _error(413, f"body over {cfg.max_body_bytes} bytes")
        body = await request.content.read(cfg.max_body_bytes + 1)
        if len(body) > cfg.max_body_bytes or not request.content.at_eof():
            return _error(413, f"body over {cfg.max_body_bytes} bytes")
        why = tokens.check_signature(
            cred, body, request.headers.get(SIGNATURE_HEADER), request.headers.get(TIMESTAMP_HEADER)
        )
        if why is not None:
            return _error(401, f"signed requests are required for this token: {why}")
        try:
            readings, raws = parse_body(body)
        except BodyError as exc:
            return _error(400, str(exc), line=exc.line)
        if len(readings) > cfg.max_readings:
            return _error(413, f"more than {cfg.max_readings} readings in one request")
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(
                None,
                lambda: core.ingest(
                    kind, readings, cred, transport="http", raw=raws, received_at=received
                ),
            )
        except ForwardError as exc:
            log.error(
                "readings refused: kafka and spool both failed",
                extra={"error": str(exc), "client": cred.name},
            )
            return web.json_response(
                {"error": "gateway cannot store readings; retry"},
                status=503,
                headers={"Retry-After": "5"},
            )
        status = 200
        if (
            not result.accepted
            and result.rejected
            and all(r["reason"] == "not_authorised" for r in result.rejected)
        ):
            status = 403
        return web.json_response(result.to_dict(), status=status)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response(health() if health else {"status": "ok"})

    async def metrics_view(request: web.Request) -> web.Response:
        if metrics is None:
            return _error(404, "metrics not enabled")
        data, content_type = metrics()
        return web.Response(body=data, headers={"Content-Type": content_type})

    app = web.Application(client_max_size=cfg.max_body_bytes + 1)
    app.router.add_post("/ingest/{kind}", ingest)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    return app
