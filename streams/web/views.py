"""The web side of a ``web`` worker: health, status page, COP map, REST API, SSE, metrics.

Routes are plain aiohttp handlers on the Faust web app's router; one middleware
(:func:`auth_middleware`) guards every route but ``/healthz`` and the login page, so a
route added later (or one of Faust's own blueprints) is never open by accident.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict, deque
from importlib import resources
from typing import Any, cast

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from fusion.types import ACK_ACTIONS
from streams.app import AppHandle
from streams.liveness import ProgressWatch
from streams.web.auth import COOKIE_NAME, ROLE_PERMISSIONS, SESSION_TTL_S, User, UserStore
from streams.web.live import LiveService, sse_frame
from streams.web.openapi import document as openapi_document

log = logging.getLogger(__name__)

PUBLIC_PATHS = frozenset({"/healthz", "/login", "/api/login"})
HEARTBEAT_S = 15.0
LOGIN_FAILURES_PER_MIN = 5
SENSOR_STALE_S = 60.0

STORE_KEY = web.AppKey("bf_users", UserStore)


def permission_for(method: str, path: str) -> str | None:
    """The permission a request needs: None for public routes, "any" for any principal
    whose role grants something on the web (a gateway token does not)."""
    if path in PUBLIC_PATHS:
        return None
    if path == "/metrics":
        return "metrics"
    if path in ("/api/me", "/api/logout"):
        return "any"
    if method == "POST" and path.startswith("/api/alerts/") and path.endswith("/ack"):
        return "act"
    return "read"


def principal(request: web.Request) -> User:
    return request["principal"]  # type: ignore[no-any-return]


def _static(name: str) -> str:
    return resources.files("streams.web").joinpath("static", name).read_text()


def _wants_html(request: web.Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("Accept", "")


def make_auth_middleware(store: UserStore) -> Any:
    @web.middleware
    async def auth_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        needed = permission_for(request.method, request.path)
        if needed is None:
            return await handler(request)  # type: ignore[no-any-return]
        store.refresh()
        user: User | None = None
        authz = request.headers.get("Authorization", "")
        if authz.lower().startswith("bearer "):
            user = store.by_token(authz[7:].strip())
        elif COOKIE_NAME in request.cookies:
            user = store.session_user(request.cookies[COOKIE_NAME])
            if user is not None and request.method != "GET" and not _same_origin(request):
                return web.json_response({"error": "cross-origin request refused"}, status=403)
        if user is None:
            if _wants_html(request):
                raise web.HTTPFound(f"/login?next={request.path_qs}")
            return web.json_response(
                {"error": "authentication required"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="borderfusion"'},
            )
        if not (user.can(needed) if needed != "any" else ROLE_PERMISSIONS.get(user.role)):
            return web.json_response(
                {"error": f"role {user.role!r} lacks permission {needed!r}"}, status=403
            )
        request["principal"] = user
        return await handler(request)  # type: ignore[no-any-return]

    return auth_middleware


def _same_origin(request: web.Request) -> bool:
    """Cookie-authenticated writes must come from our own pages (defence beside SameSite)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    from yarl import URL

    return URL(origin).host == request.url.host and URL(origin).port == request.url.port


def _csv(request: web.Request, name: str) -> set[str] | None:
    raw = request.query.get(name)
    return {v for v in raw.split(",") if v} if raw else None


def _metrics_response(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])


def aiohttp_app(handle: AppHandle) -> web.Application:
    """The worker's aiohttp application: Faust types ``app.web`` as its abstract ``Web``,
    but the aiohttp driver (the only one borderfusion configures) holds ``web_app``."""
    from faust.web.drivers.aiohttp import Web as AiohttpWeb

    return cast(AiohttpWeb, handle.app.web).web_app


def _health_response(handle: AppHandle, extra: dict[str, Any]) -> web.Response:
    """``/healthz``: 200 ``ok``, or 503 ``stalled`` with the reasons when the worker's
    consumer has stopped making progress (``streams/liveness.py``), so a liveness probe
    restarts a worker that answers HTTP but no longer consumes."""
    watch: ProgressWatch | None = handle.state.get("progress")
    stalled = watch.stalled(time.monotonic()) if watch is not None else []
    body = {
        "status": "stalled" if stalled else "ok",
        "roles": list(handle.roles),
        "uptime_s": round(time.time() - handle.state.get("started", time.time()), 1),
        **extra,
    }
    if watch is not None:
        body["progress"] = watch.summary()
    if stalled:
        body["stalled"] = stalled
    return web.json_response(body, status=503 if stalled else 200)


def register_ops(handle: AppHandle) -> None:
    """Workers without the ``web`` role still answer probes and Prometheus: ``/healthz``
    (open) and ``/metrics`` (behind the same role check as the full web)."""
    settings = handle.settings
    store = UserStore.load(settings.users_file) if settings.users_file else UserStore()
    web_app = aiohttp_app(handle)
    web_app[STORE_KEY] = store
    web_app.middlewares.append(make_auth_middleware(store))

    async def healthz(request: web.Request) -> web.Response:
        return _health_response(handle, {})

    async def metrics(request: web.Request) -> web.Response:
        return _metrics_response(request)

    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", metrics)


def register(handle: AppHandle) -> None:
    app, settings = handle.app, handle.settings
    store = UserStore.load(settings.users_file) if settings.users_file else UserStore()
    if not store.users:
        log.warning(
            "no web users configured (BORDERFUSION_USERS_FILE): every page but "
            "/healthz answers 401; see `borderfusion users add --help`"
        )
    live = LiveService(settings)
    handle.state["live"] = live
    failures: dict[str, deque[float]] = defaultdict(deque)

    web_app = aiohttp_app(handle)
    web_app[STORE_KEY] = store
    web_app.middlewares.append(make_auth_middleware(store))
    router = web_app.router

    @app.task
    async def live_state() -> None:
        """Feed the live picture for as long as the worker runs; restart on broker errors."""
        while True:
            try:
                await live.run()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the map must come back after a broker outage
                log.exception("live-state reader failed; retrying in 2 s")
                await asyncio.sleep(2.0)

    # ---------------------------------------------------------- health, status, metrics

    async def healthz(request: web.Request) -> web.Response:
        return _health_response(handle, {"live_caught_up": live.caught_up.is_set()})

    async def counts(request: web.Request) -> web.Response:
        c = handle.state.get("counts", {})
        return web.json_response(
            {
                "counts": dict(c),
                "t": time.time(),
                "app_id": settings.app_id,
                "sensors": len(handle.state["ctx"].registry) if "ctx" in handle.state else 0,
            }
        )

    async def metrics(request: web.Request) -> web.Response:
        return _metrics_response(request)

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=_static("status.html"), content_type="text/html")

    async def cop(request: web.Request) -> web.Response:
        return web.Response(
            text=_static("cop.html"),
            content_type="text/html",
            headers={"Cache-Control": "no-store"},
        )

    async def login_page(request: web.Request) -> web.Response:
        return web.Response(text=_static("login.html"), content_type="text/html")

    # ---------------------------------------------------------- session

    async def login(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            name, password = str(body["username"]), str(body["password"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "send JSON {username, password}"}, status=400)
        now = time.monotonic()
        recent = failures[name]
        while recent and now - recent[0] > 60:
            recent.popleft()
        if len(recent) >= LOGIN_FAILURES_PER_MIN:
            return web.json_response(
                {"error": "too many failed attempts; wait a minute"}, status=429
            )
        user = await asyncio.get_running_loop().run_in_executor(
            None, store.authenticate, name, password
        )
        if user is None:
            recent.append(now)
            log.warning("login failed", extra={"user": name, "peer": request.remote})
            return web.json_response({"error": "wrong user name or password"}, status=401)
        failures.pop(name, None)
        log.info("login", extra={"user": user.name, "role": user.role, "peer": request.remote})
        resp = web.json_response({"user": user.name, "role": user.role})
        resp.set_cookie(
            COOKIE_NAME,
            store.issue_session(user),
            httponly=True,
            samesite="Strict",
            path="/",
            max_age=int(SESSION_TTL_S),
            secure=request.secure or request.headers.get("X-Forwarded-Proto") == "https",
        )
        return resp

    async def logout(request: web.Request) -> web.Response:
        resp = web.json_response({"ok": True})
        resp.del_cookie(COOKIE_NAME, path="/")
        return resp

    async def me(request: web.Request) -> web.Response:
        u = principal(request)
        return web.json_response(
            {"user": u.name, "role": u.role, "permissions": sorted(ROLE_PERMISSIONS[u.role])}
        )

    # ---------------------------------------------------------- REST

    async def alerts(request: web.Request) -> web.Response:
        since = request.query.get("since")
        try:
            since_f = float(since) if since else None
        except ValueError:
            return web.json_response({"error": "since must be epoch seconds"}, status=400)
        return web.json_response(
            live.state.alert_list(
                status=_csv(request, "status"),
                rule=_csv(request, "rule"),
                severity=_csv(request, "severity"),
                sector=_csv(request, "sector"),
                since=since_f,
            )
        )

    async def alert_detail(request: web.Request) -> web.Response:
        a = live.state.alerts.get(request.match_info["alert_id"])
        if a is None:
            return web.json_response({"error": "unknown alert"}, status=404)
        tracks = [
            live.state.tracks[t].to_dict()
            for t in a.get("track_ids") or []
            if t in live.state.tracks
        ]
        wanted = set((a.get("evidence") or {}).get("sensors") or [])
        return web.json_response(
            {**a, "tracks": tracks, "sensors": [s for s in sensor_list() if s["id"] in wanted]}
        )

    async def ack(request: web.Request) -> web.Response:
        aid = request.match_info["alert_id"]
        if request.content_type != "application/json":
            return web.json_response({"error": "send application/json"}, status=415)
        try:
            body = await request.json()
            action, note = body.get("action"), body.get("note") or ""
        except (ValueError, AttributeError):
            return web.json_response({"error": "body is not a JSON object"}, status=400)
        if action not in ACK_ACTIONS:
            return web.json_response(
                {"error": f"action must be one of {list(ACK_ACTIONS)}"}, status=400
            )
        if not isinstance(note, str) or len(note) > 2000:
            return web.json_response(
                {"error": "note must be text (2000 chars at most)"}, status=400
            )
        if action == "dismiss" and not note.strip():
            return web.json_response({"error": "a dismissal needs a note saying why"}, status=400)
        if aid not in live.state.alerts:
            return web.json_response({"error": "unknown alert"}, status=404)
        user = principal(request)
        record = {
            "alert_id": aid,
            "action": action,
            "user": user.name,
            "note": note.strip(),
            "t": time.time(),
        }
        fut = await handle.topics.acks.send(key=aid.encode(), value=json.dumps(record).encode())
        await asyncio.wait_for(asyncio.ensure_future(fut), timeout=15)
        log.info(
            "alert %s: %s by %s (%s)%s",
            aid,
            action,
            user.name,
            user.role,
            f" note={note.strip()!r}" if note.strip() else "",
            extra={"alert_id": aid, "action": action, "user": user.name},
        )
        return web.json_response(record, status=202)

    async def tracks(request: web.Request) -> web.Response:
        bbox = None
        if request.query.get("bbox"):
            try:
                parts = [float(v) for v in request.query["bbox"].split(",")]
                if len(parts) != 4 or parts[0] > parts[2] or parts[1] > parts[3]:
                    raise ValueError
                bbox = (parts[0], parts[1], parts[2], parts[3])
            except ValueError:
                return web.json_response({"error": "bbox=minlon,minlat,maxlon,maxlat"}, status=400)
        return web.json_response(live.state.track_list(bbox))

    def sensor_list() -> list[dict[str, Any]]:
        ctx = handle.state.get("ctx")
        if ctx is None:
            return []
        now = live.state.t_latest
        out = []
        for s in ctx.registry:
            seen = live.state.sensor_seen.get(s.id)
            health = (
                "unknown" if seen is None else "ok" if now - seen <= SENSOR_STALE_S else "stale"
            )
            params = {k: s.param(k) for k in _param_names(s.type)}
            out.append(
                {
                    "id": s.id,
                    "type": s.type,
                    "lat": s.lat,
                    "lon": s.lon,
                    "height_m": s.height_m,
                    "params": params,
                    "last_seen": seen,
                    "health": health,
                }
            )
        return out

    async def sensors(request: web.Request) -> web.Response:
        return web.json_response(sensor_list())

    async def zones(request: web.Request) -> web.Response:
        ctx = handle.state.get("ctx")
        doc = (ctx.zones if ctx is not None else None) or {
            "type": "FeatureCollection",
            "features": [],
        }
        return web.json_response(doc, content_type="application/geo+json")

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(openapi_document())

    # ---------------------------------------------------------- live stream

    async def stream(request: web.Request) -> web.StreamResponse:
        events = live.events
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await resp.prepare(request)
        q = events.subscribe()  # before the backlog, so nothing falls between the two
        try:
            last = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
            backlog = events.resume(last)
            await resp.write(b"retry: 2000\n\n")
            if backlog is None:
                sent = events.seq
                await resp.write(
                    sse_frame(
                        events.head_id,
                        "snapshot",
                        {
                            **live.state.snapshot(),
                            "sensors": sensor_list(),
                            "caught_up": live.caught_up.is_set(),
                        },
                    )
                )
            else:
                sent = backlog[-1].seq if backlog else events.seq
                for ev in backlog:
                    await resp.write(sse_frame(ev.event_id(events.epoch), ev.kind, ev.data))
            while True:
                try:
                    nxt = await asyncio.wait_for(q.get(), HEARTBEAT_S)
                except TimeoutError:
                    await resp.write(b": keepalive\n\n")
                    continue
                if nxt is None:
                    break
                if nxt.seq <= sent:
                    continue
                await resp.write(sse_frame(nxt.event_id(events.epoch), nxt.kind, nxt.data))
                sent = nxt.seq
        except (ConnectionResetError, RuntimeError):
            pass  # the browser went away
        finally:
            events.unsubscribe(q)
        return resp

    static_dir = resources.files("streams.web").joinpath("static")
    router.add_get("/healthz", healthz)
    router.add_get("/", index)
    router.add_get("/cop", cop)
    router.add_get("/login", login_page)
    router.add_post("/api/login", login)
    router.add_post("/api/logout", logout)
    router.add_get("/api/me", me)
    router.add_get("/api/counts", counts)
    router.add_get("/api/alerts", alerts)
    router.add_get("/api/alerts/{alert_id}", alert_detail)
    router.add_post("/api/alerts/{alert_id}/ack", ack)
    router.add_get("/api/tracks", tracks)
    router.add_get("/api/sensors", sensors)
    router.add_get("/api/zones", zones)
    router.add_get("/api/stream", stream)
    router.add_get("/api/openapi.json", openapi)
    router.add_get("/metrics", metrics)
    router.add_static("/static/", str(static_dir))


def _param_names(sensor_type: str) -> list[str]:
    from sensors.registry import TYPE_FIELDS

    return list(TYPE_FIELDS.get(sensor_type, {}))
