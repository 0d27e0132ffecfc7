"""Picks up an edited ``rules.yaml`` in a running worker (issue 5: rules reloadable without
a restart).

An operator tunes a threshold or switches a rule off by editing the file the worker was
started with (a Helm ConfigMap update lands the same way: the mounted file changes). The
alert rules then run with the new settings from the next time bucket on; open alerts and
the rules' history are kept (``AlertEngine.reload_rules``). A file that does not load or
does not validate changes nothing: the rules in force stay, the error is logged with the
file's name and counted in ``borderfusion_rules_reloads_total{result="error"}``, and the
same broken version is not re-read until it changes again.

Live reloads happen at a wall-clock moment, so a replay of the same input with the final
file is not guaranteed to give the same alerts as the live run across the change.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fusion.alerts import AlertEngine
from fusion.geofence import Zones
from fusion.rules import load_rules_file
from streams import metrics as M

log = logging.getLogger(__name__)

RULES_CHECK_S = 2.0  # how often the file's stamp is looked at (one stat call)


class RulesFile:
    """A rules file watched for changes: :meth:`poll` returns its new, validated contents."""

    def __init__(self, path: Path | str | None, check_s: float = RULES_CHECK_S) -> None:
        self.path = Path(path) if path else None
        self.check_s = check_s
        self.stamp = self._stamp()
        self.next_check = 0.0

    def _stamp(self) -> tuple[int, int] | None:
        """(mtime ns, size): an edit within the same second still changes one of them
        in practice; a missing file is ``None``."""
        if self.path is None:
            return None
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def poll(self, now: float) -> dict[str, Any] | None:
        """The file's new configuration if it changed since the last look and validates;
        ``None`` otherwise. ``now``: a monotonic clock (looks at most every ``check_s``)."""
        if self.path is None or now < self.next_check:
            return None
        self.next_check = now + self.check_s
        stamp = self._stamp()
        if stamp == self.stamp:
            return None
        self.stamp = stamp
        try:
            if stamp is None:
                raise FileNotFoundError(f"{self.path} is gone")
            cfg = load_rules_file(str(self.path))
            # every setting the engine reads, checked before anything changes
            AlertEngine(Zones.from_geojson({"type": "FeatureCollection", "features": []}), cfg)
        except Exception as exc:  # noqa: BLE001 - a bad edit must not stop the worker
            M.RULES_RELOADS.labels("error").inc()
            log.error("rules file not reloaded, the rules in force stay",
                      extra={"rules_file": str(self.path), "error": str(exc)})
            return None
        M.RULES_RELOADS.labels("ok").inc()
        log.info("rules file reloaded", extra={"rules_file": str(self.path)})
        return cfg
