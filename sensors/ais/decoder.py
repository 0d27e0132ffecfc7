"""The stateful streaming AIS decoder: lines in, canonical records or rejections out.

State is per decoder instance: pending multipart fragments (per station, channel and
sequential message id) and the static data of recently seen MMSIs. One decoder per ingest
partition; it is not thread-safe.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from pyais.exceptions import UnknownPartNoException
from pyais.messages import NMEAMessage

from sensors.ais.fields import SPECS, SUPPORTED_TYPES, FieldError, sixbit, to_record
from sensors.ais.framing import Frame, FramingError, frame_line, gatehouse_time
from sensors.ais.model import AisRecord, AisRejection
from sensors.ais.reassembly import Reassembler
from sensors.ais.static_cache import StaticCache

log = logging.getLogger(__name__)

Output = AisRecord | AisRejection
_Fragment = tuple[Frame, float | None, str]  # frame, event time, the line as received


def _peek(payload: str) -> tuple[int, int | None]:
    """Message type and (when 7+ characters are there) MMSI, read from the armoured payload."""
    msg_type = sixbit(payload[0])
    if len(payload) < 7:
        return msg_type, None
    bits = 0
    for c in payload[1:7]:
        bits = (bits << 6) | sixbit(c)
    return msg_type, (bits >> 6) & 0x3FFFFFFF


class AisDecoder:
    """Decode NMEA 0183 AIS lines one at a time, reassembling multipart messages.

    >>> dec = AisDecoder()
    >>> [r.to_dict()["mmsi"] for r in dec.feed("!AIVDM,1,1,,A,13HOI:0P0000VOHLCnHQKwvL05Ip,0*23")]
    [227006760]
    """

    def __init__(
        self,
        fragment_timeout_s: float = 10.0,
        static_cache_size: int = 100_000,
        require_checksum: bool = True,
        max_pending_fragments: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.fragment_timeout_s = fragment_timeout_s
        self.require_checksum = require_checksum
        self.static = StaticCache(static_cache_size)
        self._reasm: Reassembler[_Fragment] = Reassembler(fragment_timeout_s, max_pending_fragments)
        self._clock = clock
        self._gatehouse_t: dict[str, float] = {}
        self._last_expire = float("-inf")

    # -- public API ---------------------------------------------------------------------------

    def feed(self, nmea: str, station_id: str = "", t: float | None = None) -> list[Output]:
        """Decode one received line; returns zero or more records and rejections.

        ``t`` (event time, Unix seconds) wins; else the tag block ``c:``, a trailing receiver
        timestamp or a preceding ``$PGHP`` line dates the sentence. The fragment timeout runs
        on ``t`` when given, else on the decoder's clock (arrival time): receiver timestamps
        are not used for it, as satellite feeds deliver them late and out of order.
        Comment and blank lines return nothing; every other line yields a record, a
        rejection, or (for a fragment) nothing until its message completes.
        """
        line = nmea.strip()
        if not line or line[0] == "#":
            return []
        if line.startswith("$PGHP"):
            gt = gatehouse_time(line)
            if gt is not None:
                self._gatehouse_t[station_id] = gt
            return []
        frames = frame_line(line, self.require_checksum)
        if not frames:
            return [AisRejection("not_ais", "no AIS sentence in line", line, station_id or None, t)]
        now = t if t is not None else self._clock()
        out: list[Output] = []
        if now - self._last_expire >= 1.0:
            self._last_expire = now
            out.extend(self.expire(now))
        gh_t = self._gatehouse_t.pop(station_id, None) if self._gatehouse_t else None
        for frame in frames:
            if isinstance(frame, FramingError):
                out.append(AisRejection(frame.reason, str(frame), line, station_id or None, t))
                continue
            ft = t
            if ft is None:
                ft = frame.tag_time if frame.tag_time is not None else frame.trailer_time
                if ft is None:
                    ft = gh_t
            self._feed_frame(frame, line, station_id, ft, now, out)
        return out

    def _feed_frame(
        self,
        frame: Frame,
        line: str,
        station_id: str,
        t: float | None,
        now: float,
        out: list[Output],
    ) -> None:
        station = station_id or frame.tag_station or ""
        if not frame.payload:
            out.append(
                AisRejection(
                    "empty_payload", "sentence carries no payload", line, station or None, t
                )
            )
            return
        if frame.frag_cnt == 1:
            out.append(self._decode([(frame, t, line)], station))
            return
        key = (station_id, frame.channel, frame.seq_id)
        frags, orphans = self._reasm.add(key, frame.frag_num, frame.frag_cnt, (frame, t, line), now)
        out.extend(self._orphan(o, "was superseded by a new message") for o in orphans)
        if frags is not None:
            out.append(self._decode(frags, station))

    def expire(self, now: float) -> list[AisRejection]:
        """Report (and forget) fragments older than the timeout as ``orphan_fragment``."""
        return [
            self._orphan(g, f"did not complete within {self.fragment_timeout_s:g} s")
            for g in self._reasm.expire(now)
        ]

    def flush(self) -> list[AisRejection]:
        """Report every pending fragment as an orphan (call at the end of a finite input)."""
        return [
            self._orphan(g, "did not complete before the end of input") for g in self._reasm.flush()
        ]

    def decode_lines(self, lines: Iterable[str], station_id: str = "") -> Iterable[Output]:
        """Feed every line, then flush: the batch form used by the CLI and the tests."""
        for line in lines:
            yield from self.feed(line, station_id)
        yield from self.flush()

    @property
    def pending_fragments(self) -> int:
        return len(self._reasm)

    # -- internals ----------------------------------------------------------------------------

    def _orphan(self, group: list[_Fragment], why: str) -> AisRejection:
        first = group[0][0]
        nums = ",".join(str(f.frag_num) for f, _, _ in group)
        msg = (
            f"fragment(s) {nums} of {first.frag_cnt} (channel {first.channel or '?'}, "
            f"message id {first.seq_id or 'none'}) {why}"
        )
        times = [ft for _, ft, _ in group if ft is not None]
        return AisRejection(
            "orphan_fragment",
            msg,
            "\n".join(raw for _, _, raw in group),
            first.tag_station,
            times[0] if times else None,
        )

    def _decode(self, frags: list[_Fragment], station: str) -> Output:
        first = frags[0][0]
        raw = "\n".join(r for _, _, r in frags)
        times = [ft for _, ft, _ in frags if ft is not None]
        t = times[0] if times else None
        payload = "".join(f.payload for f, _, _ in frags)
        msg_type, mmsi = _peek(payload)
        if msg_type not in SUPPORTED_TYPES:
            kind = "unknown" if not 1 <= msg_type <= 27 else f"type {msg_type}"
            return AisRejection(
                "unsupported_type",
                f"{kind} AIS message is not mapped to canonical fields",
                raw,
                station or None,
                t,
                mmsi,
                msg_type,
            )
        try:
            msgs = [NMEAMessage.from_string(f.sentence) for f, _, _ in frags]
            decoded: Any = NMEAMessage.assemble_from_iterable(msgs).decode()
            rec = to_record(decoded, msg_type, payload, frags[-1][0].fill_bits)
        except UnknownPartNoException:
            part = (sixbit(payload[6]) >> 2) & 3 if len(payload) >= 7 else None
            return AisRejection(
                "nonstandard_part",
                f"type 24 from MMSI {mmsi} has part number {part}; only A (0) and B (1) exist",
                raw,
                station or None,
                t,
                mmsi,
                msg_type,
            )
        except FieldError as e:
            return AisRejection(e.reason, str(e), raw, station or None, t, e.mmsi, msg_type)
        except Exception as e:  # pyais raises several types for broken payloads
            return AisRejection(
                "malformed",
                f"type {msg_type} payload does not decode: {type(e).__name__}: {e}",
                raw,
                station or None,
                t,
                mmsi,
                msg_type,
            )
        rec.t = t
        rec.station_id = station or None
        rec.channel = first.channel or None
        rec.nmea = tuple(f.sentence for f, _, _ in frags)
        if SPECS[msg_type].static:
            self.static.update(rec)
        self.static.merge(rec)
        return rec
