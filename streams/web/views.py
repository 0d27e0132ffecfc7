"""Health, counts and Prometheus metrics; the status page the demo links to.

The coordinators' map (COP), REST API and live stream build on these in this package.
"""

from __future__ import annotations

import time
from importlib import resources
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.app import AppHandle


def register(handle: AppHandle) -> None:
    app = handle.app

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok", "roles": list(handle.roles),
                         "uptime_s": round(time.time() - handle.state.get("started", time.time()),
                                           1)})

    @app.page("/api/counts")
    async def counts(web: Any, request: Any) -> Any:
        c = handle.state.get("counts", {})
        return web.json({"counts": dict(c), "t": time.time(), "app_id": handle.settings.app_id,
                         "sensors": len(handle.state["ctx"].registry) if "ctx" in handle.state
                         else 0})

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/")
    async def index(web: Any, request: Any) -> Any:
        page = resources.files("streams.web").joinpath("static/status.html").read_text()
        return web.html(page)
