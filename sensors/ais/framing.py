"""Find the AIS sentence in a received line and check its NMEA 0183 framing.

Receivers wrap ``!AIVDM`` in many ways: NMEA 4 tag blocks (``\\s:rx1,c:1418172113*55\\!AIVDM…``),
leading timestamps, trailing receiver metadata (``…*28,d-109,S2105,r003669946,1325394060``),
gatehouse ``$PGHP`` lines before the sentence, and plain junk. :func:`frame_line` locates the
sentence anywhere in the line, verifies the checksum and splits the fields, without decoding
the payload (that is :mod:`sensors.ais.fields`' job).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass

# Optional tag block, then "!" + talker (AI, AB, BS, SA, …) + VDM/VDO, fields, optional checksum.
_SENTENCE = re.compile(
    r"(?:\\(?P<tag>[^\\]*)\\)?(?P<body>![A-Z]{2}VD[MO],[^*\s\\]*)(?:\*(?P<chk>[0-9A-Fa-f]{2}))?"
)
_EPOCH = re.compile(r"(?<![\w.])(\d{10})(?:\.\d+)?(?![\w.])")
# Plausible receiver epoch range (2000-01-01 .. 2100-01-01) for trailing metadata timestamps.
_EPOCH_MIN, _EPOCH_MAX = 946_684_800, 4_102_444_800


@dataclass(slots=True)
class Frame:
    """One AIS sentence found in a line, with its framing fields and receiver metadata."""

    sentence: str
    frag_cnt: int
    frag_num: int
    seq_id: str
    channel: str
    payload: str
    fill_bits: int
    tag_station: str | None = None
    tag_time: float | None = None
    tag_group: str | None = None
    trailer_time: float | None = None


class FramingError(ValueError):
    """A sentence was found but its framing is unusable; ``reason`` is a REASONS key."""

    def __init__(self, reason: str, message: str, sentence: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.sentence = sentence


def nmea_checksum(body: str) -> int:
    """XOR of the characters between the leading ``!``/``$``/``\\`` and ``*``."""
    x = 0
    for b in body.encode("ascii", "replace"):
        x ^= b
    return x


def _parse_tag_block(tag: str) -> tuple[str | None, float | None, str | None]:
    """Station (``s:``), receiver time (``c:``, seconds or ms) and group (``g:``) of a tag block."""
    station = t = group = None
    content = tag.split("*", 1)[0]
    for item in content.split(","):
        key, sep, value = item.partition(":")
        if not sep:
            continue
        if key == "s":
            station = value or None
        elif key == "c":
            try:
                c = float(value)
            except ValueError:
                continue
            t = c / 1000.0 if c > 1e11 else c  # some receivers send milliseconds
        elif key == "g":
            group = value
    return station, t, group


def _trailer_time(trailer: str) -> float | None:
    """The last plausible Unix timestamp in the metadata after the checksum, if any."""
    best = None
    for m in _EPOCH.finditer(trailer):
        v = int(m.group(1))
        if _EPOCH_MIN <= v <= _EPOCH_MAX:
            best = float(v)
    return best


def frame_line(line: str, require_checksum: bool = True) -> list[Frame | FramingError]:
    """Every AIS sentence in ``line``, framed, or the :class:`FramingError` that disqualifies it.

    Usually one; a JSON line or a receiver that concatenates fragments can hold several.
    An empty list means the line holds no AIS sentence at all.
    """
    matches = list(_SENTENCE.finditer(line))
    out: list[Frame | FramingError] = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        try:
            out.append(_frame(m, line[m.end() : end], require_checksum))
        except FramingError as e:
            out.append(e)
    return out


def _frame(m: re.Match[str], trailer: str, require_checksum: bool) -> Frame:
    body = m.group("body")
    chk = m.group("chk")
    sentence = f"{body}*{chk}" if chk else body
    if chk is None:
        if require_checksum:
            raise FramingError("checksum", "sentence has no checksum", sentence)
    elif nmea_checksum(body[1:]) != int(chk, 16):
        raise FramingError(
            "checksum",
            f"checksum {chk.upper()} does not match computed {nmea_checksum(body[1:]):02X}",
            sentence,
        )
    parts = body.split(",")
    if len(parts) < 7:
        raise FramingError("malformed", f"expected 7 fields, got {len(parts)}", sentence)
    try:
        frag_cnt = int(parts[1])
        frag_num = int(parts[2])
        fill = int(parts[6]) if parts[6] else 0
    except ValueError:
        raise FramingError(
            "malformed", "fragment count/number/fill bits not numeric", sentence
        ) from None
    if not (1 <= frag_num <= frag_cnt <= 9):
        raise FramingError(
            "malformed", f"fragment {frag_num} of {frag_cnt} is impossible", sentence
        )
    if not 0 <= fill <= 5:
        raise FramingError("malformed", f"fill bits {fill} outside 0..5", sentence)
    station = t = group = None
    tag = m.group("tag")
    if tag:
        station, t, group = _parse_tag_block(tag)
    return Frame(
        sentence=sentence,
        frag_cnt=frag_cnt,
        frag_num=frag_num,
        seq_id=parts[3],
        channel=parts[4],
        payload=parts[5],
        fill_bits=fill,
        tag_station=station,
        tag_time=t,
        tag_group=group,
        trailer_time=_trailer_time(trailer) if trailer else None,
    )


def gatehouse_time(line: str) -> float | None:
    """UTC time of a gatehouse ``$PGHP,1,…`` wrapper line (it precedes the sentence it dates)."""
    if not line.startswith("$PGHP,1,"):
        return None
    f = line.split("*", 1)[0].split(",")
    try:
        year, month, day, hour, minute, sec, ms = (int(x) for x in f[2:9])
        return calendar.timegm((year, month, day, hour, minute, sec, 0, 0, 0)) + ms / 1000.0
    except (ValueError, OverflowError):
        return None
