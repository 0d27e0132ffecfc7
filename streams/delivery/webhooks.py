"""Signed webhook delivery of alerts, with retries and a dead letter when they run out.

Receivers must be able to trust and de-duplicate what they get:

* ``X-Borderfusion-Signature: sha256=<hex>`` is HMAC-SHA256 with the subscription's
  secret over ``<timestamp>.<raw body>``; ``X-Borderfusion-Timestamp`` is that timestamp
  (UTC seconds). Signing the timestamp lets a receiver refuse a replayed request that is
  older than its tolerance (``sensors.signing.verify``, 5 minutes by default). The same scheme as a
  gateway's signed ingest (``sensors/signing.py``).
* ``Idempotency-Key`` (also in the body) is ``<alert_id>@<t_last>:<status>:<severity>``:
  the same alert version always has the same key, also when a restarted worker delivers
  it a second time.

Each subscription has its own ordered queue and worker, so a slow or dead endpoint
delays only itself. Retries back off exponentially with jitter (``attempts`` tries in
all); after the last one — or at once, for an answer that retrying cannot fix (a 4xx
other than 408/425/429) — the payload goes to the dead-letter sink with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from fusion.types import Alert
from sensors.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, timestamp
from streams import metrics as M
from streams.deadletter import dead_letter
from streams.delivery.backoff import backoff_delay
from streams.delivery.config import WebhookTarget

log = logging.getLogger(__name__)
CHANNEL = "webhook"
IDEMPOTENCY_HEADER = "Idempotency-Key"
RETRYABLE_STATUS = frozenset({408, 425, 429})

DeadLetterSink = Callable[[dict[str, Any]], Awaitable[None]]


def alert_version(alert: Alert) -> str:
    """What distinguishes two publications of one alert id: its refresh time, its status
    (an ack changes it without a new ``t_last``) and its severity (an escalation)."""
    return f"{alert.t_last:.3f}:{alert.status}:{alert.severity}"


def idempotency_key(alert: Alert) -> str:
    return f"{alert.alert_id}@{alert_version(alert)}"


def payload(alert: Alert) -> bytes:
    """The request body: compact JSON, the same bytes on every retry."""
    doc = {"type": "alert", "idempotency_key": idempotency_key(alert), "alert": alert.to_dict()}
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


@dataclass(slots=True)
class Outcome:
    target: str
    key: str
    ok: bool
    attempts: int
    status: int | None
    reason: str


class WebhookDispatcher:
    """Delivery to one webhook subscription: filter, sign, post, retry, dead-letter."""

    def __init__(
        self,
        target: WebhookTarget,
        dead_letter_sink: DeadLetterSink,
        *,
        session: aiohttp.ClientSession | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.target = target
        self.dead_letter_sink = dead_letter_sink
        self._session = session
        self._own_session = session is None
        self._rng = rng or random.Random()
        self._queue: asyncio.Queue[tuple[Alert, Callable[[], None] | None]] = asyncio.Queue(
            maxsize=target.queue_max
        )
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0
        self.dead_lettered = 0
        self._gauge = M.DELIVERY_QUEUE.labels(CHANNEL, target.name)

    def wants(self, alert: Alert) -> bool:
        return self.target.filters.matches(alert)

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def deliver(self, alert: Alert) -> Outcome:
        """Post one alert version, retrying; dead-letter it when the retries run out."""
        body = payload(alert)
        key = idempotency_key(alert)
        t = self.target
        status: int | None = None
        reason = ""
        attempt = 0
        for attempt in range(1, max(t.attempts, 1) + 1):
            retry_after: float | None = None
            ts = timestamp()
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: ts,
                SIGNATURE_HEADER: sign(t.secret, ts, body),
                IDEMPOTENCY_HEADER: key,
            }
            try:
                session = await self._http()
                async with session.post(
                    t.url,
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=t.timeout_s),
                ) as resp:
                    status = resp.status
                    await resp.read()
                    if 200 <= status < 300:
                        self.delivered += 1
                        M.DELIVERIES.labels(CHANNEL).inc()
                        return Outcome(t.name, key, True, attempt, status, "ok")
                    reason = f"http_{status}"
                    if status < 500 and status not in RETRYABLE_STATUS:
                        M.DELIVERY_FAILURES.labels(CHANNEL).inc()
                        return await self._dead_letter(
                            body,
                            key,
                            attempt,
                            status,
                            "rejected",
                            f"HTTP {status}: retrying cannot help",
                        )
                    retry_after = _retry_after(resp.headers.get("Retry-After"))
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                status = None
                reason = type(exc).__name__
            M.DELIVERY_FAILURES.labels(CHANNEL).inc()
            log.warning(
                "webhook attempt failed",
                extra={"target": t.name, "key": key, "attempt": attempt, "reason": reason},
            )
            if attempt < t.attempts:
                delay = backoff_delay(attempt - 1, t.backoff_base_s, t.backoff_max_s, self._rng)
                if retry_after is not None:
                    delay = min(max(delay, retry_after), t.backoff_max_s)
                await asyncio.sleep(delay)
        return await self._dead_letter(
            body,
            key,
            attempt,
            status,
            "retries_exhausted",
            f"last error {reason} after {attempt} attempt(s)",
        )

    async def _dead_letter(
        self, body: bytes, key: str, attempts: int, status: int | None, reason: str, message: str
    ) -> Outcome:
        record = dead_letter(
            CHANNEL, reason, body, message=f"{self.target.name}: {message}"
        ).to_dict()
        record.update(target=self.target.name, idempotency_key=key, attempts=attempts)
        M.DEADLETTERS.labels(CHANNEL, reason).inc()
        self.dead_lettered += 1
        await self.dead_letter_sink(record)
        return Outcome(self.target.name, key, False, attempts, status, reason)

    # -- queued, ordered delivery (what the service uses) --------------------------------
    async def submit(self, alert: Alert, on_done: Callable[[], None] | None = None) -> None:
        """Queue an alert for this subscription; waits when the queue is full, which
        slows the Kafka consumer down instead of dropping alerts."""
        await self._queue.put((alert, on_done))
        self._gauge.set(self._queue.qsize())

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._work(), name=f"webhook-{self.target.name}")

    async def _work(self) -> None:
        while True:
            alert, on_done = await self._queue.get()
            try:
                await self.deliver(alert)
            except Exception:  # noqa: BLE001 - a bad sink must not stop the worker
                log.exception("webhook delivery crashed", extra={"target": self.target.name})
            finally:
                self._queue.task_done()
                self._gauge.set(self._queue.qsize())
                if on_done is not None:
                    on_done()

    async def join(self, timeout_s: float | None = None) -> None:
        await asyncio.wait_for(self._queue.join(), timeout_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own back-off
