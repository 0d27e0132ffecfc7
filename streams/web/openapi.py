"""The OpenAPI 3 description of the REST API, served at ``/api/openapi.json``.

Written by hand next to the views (the API is small); a test checks that every ``/api``
route of the running app appears here and that nothing here is missing from the app.
"""

from __future__ import annotations

from typing import Any

from fusion.types import ACK_ACTIONS, ALERT_STATUSES, CLASSES, SEVERITIES


def _query_param(name: str, kind: str, desc: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": kind},
        "description": desc,
    }


def _csv_param(name: str, desc: str, enum: tuple[str, ...] | None = None) -> dict[str, Any]:
    param = _query_param(name, "string", desc + " (comma-separated for several)")
    if enum:
        param["schema"]["description"] = "one or more of: " + ", ".join(enum)
    return param


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _json(ref: str, desc: str, array: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"$ref": f"#/components/schemas/{ref}"}
    if array:
        schema = {"type": "array", "items": schema}
    return {"description": desc, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "401": {"description": "no valid session or bearer token"},
    "403": {"description": "authenticated, but the role lacks the permission"},
}


def document(version: str = "1") -> dict[str, Any]:
    alert = {
        "type": "object",
        "required": [
            "alert_id",
            "rule",
            "severity",
            "score",
            "status",
            "t_first",
            "t_last",
            "lat",
            "lon",
            "sector",
            "track_ids",
            "summary",
            "evidence",
        ],
        "properties": {
            "alert_id": {"type": "string", "description": "<sector>:<hash>, stable on replay"},
            "rule": {"type": "string"},
            "severity": {"type": "string", "enum": list(SEVERITIES)},
            "score": {"type": "number", "minimum": 0, "maximum": 1},
            "status": {"type": "string", "enum": list(ALERT_STATUSES)},
            "t_first": {"type": "number", "description": "UTC seconds since the epoch"},
            "t_last": {"type": "number"},
            "lat": {"type": "number"},
            "lon": {"type": "number"},
            "sector": {"type": "string"},
            "zone_id": {"type": "string", "nullable": True},
            "track_ids": {"type": "array", "items": {"type": "string"}},
            "summary": {"type": "string"},
            "evidence": {"type": "object", "description": "obs_ids, sensors, details, actions"},
            "mmsi": {"type": "integer", "nullable": True},
            "classification": {"type": "string", "nullable": True, "enum": [*CLASSES, None]},
        },
    }
    track = {
        "type": "object",
        "properties": {
            "track_id": {"type": "string"},
            "t": {"type": "number"},
            "lat": {"type": "number"},
            "lon": {"type": "number"},
            "vel_e": {"type": "number"},
            "vel_n": {"type": "number"},
            "cov": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
            "status": {"type": "string"},
            "sources": {"type": "array", "items": {"type": "string"}},
            "sector": {"type": "string"},
            "mmsi": {"type": "integer", "nullable": True},
            "name": {"type": "string", "nullable": True},
            "classification": {"type": "string", "nullable": True},
            "friendly": {
                "type": "string",
                "description": "own unit id (blue-force tracking): this track is our patrol; "
                "absent for every other track",
            },
            "trail": {
                "type": "array",
                "description": "recent [t, lat, lon] points, oldest first",
                "items": {"type": "array", "items": {"type": "number"}},
            },
        },
    }
    ack_in = {
        "type": "object",
        "required": ["action"],
        "properties": {
            "action": {"type": "string", "enum": list(ACK_ACTIONS)},
            "note": {"type": "string", "description": "required for dismiss"},
        },
    }
    ack_out = {
        "type": "object",
        "description": "the record produced to alerts.acks (DESIGN §3); the alert agent "
        "applies it and republishes the alert",
        "properties": {
            "alert_id": {"type": "string"},
            "action": {"type": "string", "enum": list(ACK_ACTIONS)},
            "user": {"type": "string"},
            "note": {"type": "string"},
            "t": {"type": "number"},
        },
    }
    sensor = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string"},
            "lat": {"type": "number"},
            "lon": {"type": "number"},
            "height_m": {"type": "number"},
            "params": {
                "type": "object",
                "description": "max_range_m, heading_deg, fov_deg, radius_m, … per type",
            },
            "last_seen": {
                "type": "number",
                "nullable": True,
                "description": "event time of the newest track it fed",
            },
            "health": {"type": "string", "enum": ["ok", "stale", "unknown"]},
        },
    }
    secured: list[dict[str, list[str]]] = [{"session": []}, {"bearer": []}]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "borderfusion COP API",
            "version": version,
            "description": "Alerts, tracks, sensors and zones of the live picture; "
            "acknowledge/dismiss/escalate; live updates over SSE.",
        },
        "security": secured,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "bf_session"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
            "schemas": {
                "Alert": alert,
                "Track": track,
                "AckRequest": ack_in,
                "AckRecord": ack_out,
                "Sensor": sensor,
            },
        },
        "paths": {
            "/api/login": {
                "post": {
                    "summary": "Log in; sets the HttpOnly session cookie",
                    "security": [],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["username", "password"],
                                    "properties": {
                                        "username": {"type": "string"},
                                        "password": {"type": "string"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {"description": "logged in: {user, role}"},
                        "401": {"description": "wrong name or password"},
                        "429": {"description": "too many failed attempts"},
                    },
                }
            },
            "/api/logout": {
                "post": {
                    "summary": "End the session (clears the cookie)",
                    "responses": {"200": {"description": "logged out"}, **ERRORS},
                }
            },
            "/api/me": {
                "get": {
                    "summary": "The authenticated principal and its permissions",
                    "responses": {"200": {"description": "{user, role, permissions}"}, **ERRORS},
                }
            },
            "/api/alerts": {
                "get": {
                    "summary": "Current alerts, most severe first, then newest",
                    "parameters": [
                        _csv_param("status", "alert status", ALERT_STATUSES),
                        _csv_param("rule", "rule name"),
                        _csv_param("severity", "severity", SEVERITIES),
                        _csv_param("sector", "sector id"),
                        _query_param(
                            "since",
                            "number",
                            "only alerts with t_last >= since (UTC epoch seconds)",
                        ),
                    ],
                    "responses": {
                        "200": _json("Alert", "alerts", array=True),
                        "400": {"description": "bad filter"},
                        **ERRORS,
                    },
                }
            },
            "/api/alerts/{alert_id}": {
                "get": {
                    "summary": "One alert with the trails of its tracks and its sensors",
                    "parameters": [_path_param("alert_id")],
                    "responses": {
                        "200": _json("Alert", "the alert (+ tracks, sensors)"),
                        "404": {"description": "unknown alert"},
                        **ERRORS,
                    },
                }
            },
            "/api/alerts/{alert_id}/ack": {
                "post": {
                    "summary": "Acknowledge, dismiss, resolve or escalate (role coordinator/admin)",
                    "description": "Produces an alerts.acks record naming the authenticated user; "
                    "the new status arrives on /api/stream when the alert agent has "
                    "applied it. Send Content-Type: application/json.",
                    "parameters": [_path_param("alert_id")],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/AckRequest"}
                            }
                        },
                    },
                    "responses": {
                        "202": _json("AckRecord", "ack record produced"),
                        "400": {"description": "bad action or missing note"},
                        "404": {"description": "unknown alert"},
                        "415": {"description": "body is not JSON"},
                        **ERRORS,
                    },
                }
            },
            "/api/tracks": {
                "get": {
                    "summary": "Live tracks with short trails",
                    "parameters": [_query_param("bbox", "string", "minlon,minlat,maxlon,maxlat")],
                    "responses": {
                        "200": _json("Track", "tracks", array=True),
                        "400": {"description": "bad bbox"},
                        **ERRORS,
                    },
                }
            },
            "/api/sensors": {
                "get": {
                    "summary": "Sensor registry with health (last seen in a track)",
                    "responses": {"200": _json("Sensor", "sensors", array=True), **ERRORS},
                }
            },
            "/api/zones": {
                "get": {
                    "summary": "The zones GeoJSON FeatureCollection (DESIGN §5)",
                    "responses": {
                        "200": {
                            "description": "GeoJSON",
                            "content": {"application/geo+json": {"schema": {"type": "object"}}},
                        },
                        **ERRORS,
                    },
                }
            },
            "/api/stream": {
                "get": {
                    "summary": "Server-Sent Events: snapshot, alert, tracks",
                    "description": "Each event has an id; reconnect with Last-Event-ID (or "
                    "?last_event_id=) to receive what was missed, or a fresh "
                    "snapshot when the gap is older than the server's buffer.",
                    "responses": {
                        "200": {
                            "description": "text/event-stream",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        },
                        **ERRORS,
                    },
                }
            },
            "/api/counts": {
                "get": {
                    "summary": "Pipeline counters of this worker",
                    "responses": {"200": {"description": "counts"}, **ERRORS},
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3"}, **ERRORS},
                }
            },
        },
    }
