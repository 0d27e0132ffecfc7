"""Getting accepted records into Kafka, or into the spool when Kafka is not there.

The rule that keeps "accepted ⇒ never lost": :meth:`Forwarder.submit` returns only after
each record was acked by the broker (``acks=all``) or fsynced in the spool. While the spool
holds anything, new records queue behind it so each sensor's readings stay in order; a
background thread drains the spool oldest-first and advances its cursor only after the
broker acked a batch.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sensors.gateway.spool import Record, Spool

log = logging.getLogger(__name__)


class Link(Protocol):
    """The part of a Kafka producer the forwarder needs (kafka-python's KafkaProducer)."""

    def send(self, topic: str, value: bytes, key: bytes | None = None) -> Any: ...

    def flush(self, timeout: float | None = None) -> None: ...

    def close(self, timeout: float | None = None) -> None: ...


LinkFactory = Callable[[], Link]


def kafka_link_factory(bootstrap: str, **client_kwargs: Any) -> LinkFactory:
    """A factory of kafka-python producers tuned to fail fast, so the spool takes over.

    ``max_block_ms`` bounds a send waiting for metadata (default 60 s would stall the
    request); idempotence is off because a restarted broker forgets producer ids and the
    spool already gives at-least-once delivery.
    """

    def make() -> Link:
        from kafka import KafkaProducer

        from sensors import kafka_crc

        kafka_crc.install()
        opts: dict[str, Any] = {
            "bootstrap_servers": bootstrap,
            "acks": "all",
            "linger_ms": 5,
            "max_in_flight_requests_per_connection": 1,
            "enable_idempotence": False,
            "retries": 3,
            "max_block_ms": 3000,
            "request_timeout_ms": 5000,
            "delivery_timeout_ms": 8000,
            "bootstrap_timeout_ms": 3000,
            "reconnect_backoff_max_ms": 1000,
            "client_id": "borderfusion-gateway",
        }
        opts.update(client_kwargs)
        return KafkaProducer(**opts)  # type: ignore[no-any-return]

    return make


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@dataclass(slots=True)
class SubmitResult:
    """Per record: True if it went to the spool, False if Kafka acked it."""

    spooled: list[bool]

    @property
    def n_spooled(self) -> int:
        return sum(self.spooled)


class ForwardError(RuntimeError):
    """Neither Kafka nor the spool took the records: they are NOT accepted."""


class Forwarder:
    """Kafka first, spool second; a drainer thread empties the spool when Kafka is back."""

    def __init__(
        self,
        spool: Spool,
        link_factory: LinkFactory,
        topic_prefix: str = "",
        send_timeout_s: float = 5.0,
        drain_batch: int = 500,
        retry_s: float = 1.0,
        on_depth: Callable[[int], None] | None = None,
    ) -> None:
        self.spool = spool
        self.topic_prefix = topic_prefix
        self.send_timeout_s = send_timeout_s
        self.drain_batch = drain_batch
        self.retry_s = retry_s
        self._factory = link_factory
        self._on_depth = on_depth or (lambda depth: None)
        self._link: Link | None = None
        self._link_lock = threading.Lock()
        self.first_attempt = threading.Event()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.kafka_ok = False
        self.drained = 0

    # -- the Kafka link -----------------------------------------------------------------
    def _connect(self) -> Link | None:
        """Build a link (drainer thread only: it may block for the bootstrap timeout)."""
        if self._link is not None:
            return self._link
        try:
            link = self._factory()
        except Exception as exc:  # noqa: BLE001 - any failure means "Kafka not reachable"
            self.kafka_ok = False
            log.warning("kafka not reachable", extra={"error": repr(exc)})
            return None
        finally:
            self.first_attempt.set()
        with self._link_lock:
            self._link = link
            self.kafka_ok = True
        log.info("kafka link up")
        return link

    def _drop_link(self, link: Link) -> None:
        """Abandon a link that failed; its unacked records are already spooled.

        Its pending records are aborted rather than left to land later, which would
        duplicate them and put them behind newer ones. kafka-python has no public abort
        (``close`` flushes first), so this asks its sender thread to force-close.
        """
        with self._link_lock:
            if self._link is link:
                self._link = None
            self.kafka_ok = False
        sender = getattr(link, "_sender", None)
        if sender is not None and hasattr(sender, "force_close"):
            sender.force_close()

        def close() -> None:
            try:
                link.close(10)
            except Exception:  # noqa: BLE001
                log.debug("closing a failed kafka link raised", exc_info=True)

        threading.Thread(target=close, name="kafka-link-close", daemon=True).start()

    def _send_all(self, link: Link, records: list[Record]) -> int:
        """Send in order, wait for acks; return how many leading records were acked."""
        deadline = time.monotonic() + self.send_timeout_s
        futures = []
        try:
            for r in records:
                futures.append(
                    link.send(
                        self.topic_prefix + r.topic,
                        _dumps(r.value),
                        r.key.encode() if r.key is not None else None,
                    )
                )
        except Exception as exc:  # noqa: BLE001 - e.g. KafkaTimeoutError waiting for metadata
            log.warning("kafka send failed", extra={"error": repr(exc)})
        acked = 0
        for f in futures:
            try:
                f.get(timeout=max(0.01, deadline - time.monotonic()))
            except Exception as exc:  # noqa: BLE001
                log.warning("kafka did not ack", extra={"error": repr(exc)})
                break
            acked += 1
        return acked

    # -- the request path ---------------------------------------------------------------
    def submit(self, records: list[Record]) -> SubmitResult:
        """Deliver or spool every record; raise :class:`ForwardError` if neither worked."""
        if not records:
            return SubmitResult([])
        try:
            if self.spool.append_if_nonempty(records):
                self._spooled_now()
                return SubmitResult([True] * len(records))
        except OSError as exc:
            raise ForwardError(f"spool write failed: {exc}") from exc
        link = self._link  # never connect on the request path: the drainer does that
        acked = self._send_all(link, records) if link is not None else 0
        if acked == len(records):
            self.kafka_ok = True
            return SubmitResult([False] * len(records))
        if link is not None:
            self._drop_link(link)
        # records after the first unacked one go to the spool too, so order is kept
        # (an unacked record may still have landed: at-least-once, never at-most-once)
        rest = records[acked:]
        try:
            self.spool.append(rest)
        except OSError as exc:
            raise ForwardError(f"kafka unreachable and spool write failed: {exc}") from exc
        self._spooled_now()
        return SubmitResult([False] * acked + [True] * len(rest))

    def _spooled_now(self) -> None:
        self._on_depth(self.spool.depth)
        self._wake.set()

    # -- the drainer --------------------------------------------------------------------
    def start(self) -> Forwarder:
        self._thread = threading.Thread(target=self._drain_loop, name="spool-drainer", daemon=True)
        self._thread.start()
        return self

    def _drain_loop(self) -> None:
        self._on_depth(self.spool.depth)
        while not self._stop.is_set():
            if self._link is None and self._connect() is None:
                self._stop.wait(self.retry_s)
                continue
            if self.spool.depth == 0:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            try:
                self.drain_once()
            except Exception:  # noqa: BLE001 - the drainer must never die
                log.exception("spool drainer error")
                self._stop.wait(self.retry_s)

    def drain_once(self) -> int:
        """Send one batch from the spool; return how many were acked (0: try later)."""
        link = self._link
        if link is None:
            return 0
        batch = self.spool.peek(self.drain_batch)
        if not batch:
            return 0
        acked = self._send_all(link, [r for r, _ in batch])
        if acked:
            done = sum(r.weight for r, _ in batch[:acked])
            self.spool.commit(batch[acked - 1][1], done)
            self.drained += done
        if acked < len(batch):
            # the unacked rest is resent later (a record that landed anyway is duplicated)
            self._drop_link(link)
            self._on_depth(self.spool.depth)
            self._stop.wait(self.retry_s)
            return acked
        self.kafka_ok = True
        self._on_depth(self.spool.depth)
        if self.spool.depth == 0:
            log.info("spool drained", extra={"drained_total": self.drained})
        return acked

    def wait_drained(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.spool.depth and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.spool.depth == 0

    def close(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        with self._link_lock:
            link, self._link = self._link, None
        if link is not None:
            try:
                link.flush(timeout_s)
                link.close(timeout_s)
            except Exception:  # noqa: BLE001
                log.debug("closing kafka link raised", exc_info=True)
        self.spool.close()
