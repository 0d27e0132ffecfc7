"""Turn the lines of an AIS capture file into ``AisDecoder.feed`` arguments.

Besides raw NMEA (in any wrapping the decoder recognises), a file may hold JSON lines:
recorded readings (DESIGN §8, ``{"topic": "readings.ais", "value": {"nmea": …, "t": …}}``),
bare readings (``{"sensor_id": …, "station_id": …, "t": …, "nmea": …}``) or test pairs
(``{"nmea": [fragment, …], …}``). Their time and station are used when present.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

FeedArgs = tuple[str, str, float | None]


def _from_json(obj: Any, default_station: str) -> FeedArgs | None:
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("value"), dict):
        obj = obj["value"]
    nmea = obj.get("nmea")
    if isinstance(nmea, list):
        nmea = " ".join(str(s) for s in nmea)
    if not isinstance(nmea, str):
        return None
    station = obj.get("station_id") or obj.get("sensor_id") or default_station
    t = obj.get("t")
    return nmea, str(station), float(t) if isinstance(t, int | float) else None


def feed_args(lines: Iterable[str], station_id: str = "") -> Iterator[FeedArgs]:
    """(nmea, station_id, t) per input line; lines that are not JSON readings pass unchanged."""
    for line in lines:
        if line.startswith("{"):
            try:
                args = _from_json(json.loads(line), station_id)
            except ValueError:
                args = None
            if args is not None:
                yield args
                continue
        yield line, station_id, None
