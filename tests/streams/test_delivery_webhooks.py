"""Webhooks against a real aiohttp receiver on loopback: signature, retry, dead letter,
filters, and ``delivery.yaml`` parsing."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

import pytest
from aiohttp import web

from fusion.types import Alert
from sensors.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from streams.delivery.config import (
    AlertFilter,
    DeliveryConfigError,
    WebhookTarget,
    parse_config,
)
from streams.delivery.webhooks import IDEMPOTENCY_HEADER, WebhookDispatcher, idempotency_key

SECRET = "s3cret-for-tests"
T0 = 1_718_000_000.0


def make_alert(**kw: Any) -> Alert:
    base: dict[str, Any] = dict(
        alert_id="s3:77aa",
        rule="dark_vessel",
        severity="high",
        score=0.9,
        status="open",
        t_first=T0 - 60,
        t_last=T0,
        lat=51.9,
        lon=23.7,
        sector="s3",
        zone_id="river",
        track_ids=["s3-T2"],
        summary="Unlit boat without AIS on the Bug river",
        evidence={},
    )
    base.update(kw)
    return Alert(**base)


class Receiver:
    """A webhook endpoint that checks signatures and answers from a script of statuses."""

    def __init__(self, statuses: list[int] | None = None, default: int = 200) -> None:
        self.statuses = list(statuses or [])
        self.default = default
        self.requests: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        ok = verify(
            SECRET,
            request.headers.get(TIMESTAMP_HEADER, ""),
            body,
            request.headers.get(SIGNATURE_HEADER, ""),
        )
        self.requests.append({"body": body, "headers": dict(request.headers), "valid": ok})
        if not ok:
            return web.Response(status=401)
        status = self.statuses.pop(0) if self.statuses else self.default
        return web.Response(status=status)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


def hook(url: str, **kw: Any) -> WebhookTarget:
    base: dict[str, Any] = dict(
        name="ops",
        url=url,
        secret=SECRET,
        attempts=5,
        backoff_base_s=0.01,
        backoff_max_s=0.05,
        timeout_s=2.0,
    )
    base.update(kw)
    return WebhookTarget(**base)


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = b'{"a":1}'
    expected = hmac.new(SECRET.encode(), b"1718000000.000." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, "1718000000.000", body) == "sha256=" + expected
    assert verify(SECRET, "1718000000.000", body, "sha256=" + expected, now=T0 + 10)
    # replayed later than the tolerance, tampered body, wrong secret: all refused
    assert not verify(SECRET, "1718000000.000", body, "sha256=" + expected, now=T0 + 301)
    assert not verify(SECRET, "1718000000.000", b'{"a":2}', "sha256=" + expected, now=T0)
    assert not verify("other", "1718000000.000", body, "sha256=" + expected, now=T0)


def test_retry_after_a_500_then_delivered_with_a_valid_signature():
    async def main() -> tuple[Receiver, Any, list]:
        rx = await Receiver(statuses=[500]).start()
        dead: list[dict] = []

        async def sink(rec: dict) -> None:
            dead.append(rec)

        d = WebhookDispatcher(hook(rx.url), sink)
        out = await d.deliver(make_alert())
        await d.stop()
        await rx.stop()
        return rx, out, dead

    rx, out, dead = asyncio.run(main())
    assert out.ok and out.attempts == 2 and out.status == 200
    assert dead == []
    assert len(rx.requests) == 2 and all(r["valid"] for r in rx.requests)
    first, second = rx.requests
    assert first["body"] == second["body"]  # same bytes on a retry
    key = idempotency_key(make_alert())
    assert first["headers"][IDEMPOTENCY_HEADER] == second["headers"][IDEMPOTENCY_HEADER] == key
    doc = json.loads(second["body"])
    assert doc["idempotency_key"] == key and doc["alert"]["alert_id"] == "s3:77aa"


def test_permanent_failure_gives_exactly_one_dead_letter_after_the_last_retry():
    async def main() -> tuple[Receiver, Any, list]:
        rx = await Receiver(default=503).start()
        dead: list[dict] = []

        async def sink(rec: dict) -> None:
            dead.append(rec)

        d = WebhookDispatcher(hook(rx.url, attempts=4), sink)
        out = await d.deliver(make_alert())
        await d.stop()
        await rx.stop()
        return rx, out, dead

    rx, out, dead = asyncio.run(main())
    assert not out.ok and out.attempts == 4
    assert len(rx.requests) == 4
    assert len(dead) == 1
    rec = dead[0]
    assert rec["source"] == "webhook" and rec["reason"] == "retries_exhausted"
    assert rec["target"] == "ops" and rec["attempts"] == 4
    assert json.loads(rec["raw"])["alert"]["alert_id"] == "s3:77aa"  # the payload, intact
    assert "http_503" in rec["message"]


def test_unreachable_endpoint_and_a_4xx_rejection():
    async def main() -> tuple[list, list]:
        rx = await Receiver(default=422).start()
        gone = await Receiver().start()
        gone_url = gone.url
        await gone.stop()  # connection refused from now on
        dead: list[dict] = []

        async def sink(rec: dict) -> None:
            dead.append(rec)

        dispatchers = [
            WebhookDispatcher(hook(gone_url, attempts=3), sink),
            WebhookDispatcher(hook(rx.url), sink),
        ]
        outs = [await d.deliver(make_alert()) for d in dispatchers]
        for d in dispatchers:
            await d.stop()
        await rx.stop()
        return outs, dead

    outs, dead = asyncio.run(main())
    assert [o.attempts for o in outs] == [3, 1]  # a 422 is not retried
    assert [d["reason"] for d in dead] == ["retries_exhausted", "rejected"]
    assert "ClientConnectorError" in dead[0]["message"]


def test_queued_delivery_keeps_order_per_subscription_and_calls_back():
    async def main() -> tuple[Receiver, int]:
        rx = await Receiver(statuses=[500, 200, 500]).start()
        done = 0

        def on_done() -> None:
            nonlocal done
            done += 1

        async def sink(rec: dict) -> None:
            raise AssertionError("nothing should be dead-lettered")

        d = WebhookDispatcher(hook(rx.url), sink)
        await d.start()
        for i in range(4):
            await d.submit(make_alert(t_last=T0 + i), on_done)
        await d.join(10.0)
        await d.stop()
        await rx.stop()
        return rx, done

    rx, done = asyncio.run(main())
    assert done == 4
    ok_bodies = [json.loads(r["body"])["alert"]["t_last"] for r in rx.requests]
    # attempts: v0 (500), v0 ok, v1 (500), v1 ok, v2, v3 — in alert order
    assert ok_bodies == [T0, T0, T0 + 1, T0 + 1, T0 + 2, T0 + 3]


def test_filters_select_rules_severity_sectors_statuses():
    f = AlertFilter(
        rules=frozenset({"dark_vessel", "border_crossing"}),
        min_severity="medium",
        sectors=frozenset({"s3"}),
        statuses=frozenset({"open"}),
    )
    assert f.matches(make_alert())
    assert not f.matches(make_alert(rule="loitering"))
    assert not f.matches(make_alert(severity="low"))
    assert f.matches(make_alert(severity="critical"))
    assert not f.matches(make_alert(sector="s4"))
    assert not f.matches(make_alert(status="resolved"))
    assert AlertFilter().matches(make_alert(severity="info", status="dismissed"))


def test_delivery_yaml_parses_and_refuses_typos():
    doc = {
        "tak": [
            {
                "name": "takserver",
                "host": "10.0.0.5",
                "port": 8089,
                "protocol": "tls",
                "cafile": "/etc/bf/ca.pem",
                "tracks": True,
                "filters": {"min_severity": "medium"},
            }
        ],
        "webhooks": [
            {
                "name": "ops",
                "url": "https://ops.example/hook",
                "secret_env": "HOOK",
                "attempts": 7,
                "filters": {"rules": ["dark_vessel"], "statuses": ["open", "acknowledged"]},
            }
        ],
    }
    cfg = parse_config(doc, env={"HOOK": "abc"})
    assert cfg.tak[0].protocol == "tls" and cfg.tak[0].port == 8089 and cfg.wants_tracks
    assert str(cfg.tak[0].cafile) == "/etc/bf/ca.pem"
    assert cfg.tak[0].filters.min_severity == "medium"
    assert cfg.webhooks[0].secret == "abc" and cfg.webhooks[0].attempts == 7
    assert cfg.webhooks[0].filters.rules == frozenset({"dark_vessel"})
    assert "abc" not in repr(cfg.webhooks[0])

    bad = [
        ({"tak": [{"name": "x", "host": "h", "port": 1, "protcol": "udp"}]}, "protcol"),
        ({"tak": [{"name": "x", "host": "h", "port": 1, "protocol": "http"}]}, "protocol"),
        ({"webhooks": [{"name": "w", "url": "u"}]}, "secret"),
        (
            {
                "webhooks": [
                    {"name": "w", "url": "u", "secret": "s", "filters": {"min_severty": "low"}}
                ]
            },
            "min_severty",
        ),
        (
            {
                "webhooks": [
                    {"name": "w", "url": "u", "secret": "s", "filters": {"statuses": ["closed"]}}
                ]
            },
            "closed",
        ),
        ({"webhooks": [{"name": "w", "url": "u", "secret_env": "NOPE"}]}, "NOPE"),
        (
            {
                "tak": [{"name": "a", "host": "h", "port": 1}],
                "webhooks": [{"name": "a", "url": "u", "secret": "s"}],
            },
            "unique",
        ),
        ({"tak": [{"name": "a", "host": "h", "port": "eighty"}]}, "port"),
    ]
    for doc, word in bad:
        with pytest.raises(DeliveryConfigError, match=word):
            parse_config(doc, env={})
