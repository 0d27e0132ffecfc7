"""A small HTTP client for the gateway, shaped like :class:`sensors.push.KafkaPusher`.

``borderfusion push --http URL --token T`` uses it in place of a Kafka producer: readings
are buffered per kind and POSTed as JSON lines; the gateway's per-record errors go to
stderr. Dead letters are not sent: the gateway dead-letters what it refuses itself.
"""

from __future__ import annotations

import json
import ssl
import sys
import time
import urllib.error
import urllib.request
from typing import IO, Any

from sensors.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, timestamp


class GatewayError(RuntimeError):
    """The gateway refused a whole request (401/403/413/400) or stayed unreachable."""


class GatewayClient:
    """Batching, retrying HTTP sender to ``POST {url}/ingest/{kind}``."""

    def __init__(
        self,
        url: str,
        token: str | None,
        batch: int = 500,
        hmac_key: str | bytes | None = None,
        timeout_s: float = 30.0,
        retries: int = 5,
        errors: IO[str] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """``tls``: how an ``https://`` gateway is verified (``sensors.tls.
        client_context``: the agency's CA, a client certificate); None: the system's."""
        if not token:
            raise GatewayError("a gateway token is needed (--token)")
        self.url = url.rstrip("/")
        self._token = token
        self.batch = batch
        self.hmac_key = hmac_key.encode() if isinstance(hmac_key, str) else hmac_key
        self.timeout_s = timeout_s
        self.retries = retries
        self.errors = errors if errors is not None else sys.stderr
        self.tls = tls
        self._buffers: dict[str, list[bytes]] = {}
        self.accepted = 0
        self.spooled = 0
        self.rejected = 0

    def send(self, topic: str, value: Any, key: str | None = None) -> None:
        """Queue a reading (or an array of them) for ``readings.<kind>``; POST when full."""
        if not topic.startswith("readings."):
            return  # dead letters and other topics: the gateway handles its own
        kind = topic.split(".", 1)[1]
        buf = self._buffers.setdefault(kind, [])
        for reading in value if isinstance(value, list) else [value]:
            buf.append(json.dumps(reading, separators=(",", ":")).encode())
        if len(buf) >= self.batch:
            self._post(kind)

    def flush(self, timeout: float | None = None) -> None:
        for kind in list(self._buffers):
            self._post(kind)

    def close(self, timeout: float | None = None) -> None:
        self.flush()

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post(self, kind: str) -> dict[str, Any]:
        lines = self._buffers.pop(kind, [])
        if not lines:
            return {"accepted": 0, "spooled": 0, "rejected": []}
        body = b"\n".join(lines) + b"\n"
        headers = {"Authorization": f"Bearer {self._token}", "Content-Type": "application/x-ndjson"}
        result = self._request(f"{self.url}/ingest/{kind}", body, headers)
        self.accepted += int(result.get("accepted", 0))
        self.spooled += int(result.get("spooled", 0))
        for err in result.get("rejected", []):
            self.rejected += 1
            print(
                f"gateway rejected {kind} record {err.get('index')}: {err.get('field')} "
                f"{err.get('reason')}: {err.get('message')}",
                file=self.errors,
            )
        return result

    def _request(self, url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        delay = 0.5
        last = ""
        for attempt in range(self.retries + 1):
            if self.hmac_key:  # signed afresh for each attempt: a signature is good once
                ts = timestamp()
                headers = {**headers, TIMESTAMP_HEADER: ts,
                           SIGNATURE_HEADER: sign(self.hmac_key, ts, body)}
            req = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s, context=self.tls) as resp:
                    return dict(json.loads(resp.read()))
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode("utf-8", "replace")
                if exc.code == 403:  # per-record results: nothing of this batch allowed
                    return dict(json.loads(detail))
                if exc.code not in (429, 502, 503, 504):
                    raise GatewayError(
                        f"gateway refused the request: HTTP {exc.code} {detail}"
                    ) from exc
                retry_after = exc.headers.get("Retry-After")
                wait = float(retry_after) if retry_after and retry_after.isdigit() else delay
                last = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError) as exc:
                if isinstance(getattr(exc, "reason", exc), ssl.SSLCertVerificationError):
                    # not transient: retrying cannot make the certificate trusted
                    raise GatewayError(
                        f"the gateway's TLS certificate is not trusted ({exc}); give the CA "
                        "that signed it (--ca-file)"
                    ) from exc
                wait, last = delay, str(exc)
            if attempt == self.retries:
                break  # no wait after the last attempt
            time.sleep(wait)
            delay = min(delay * 2, 10.0)
        raise GatewayError(f"gateway unreachable after {self.retries + 1} attempts: {last}")
