"""UDP payloads out of a classic libpcap capture, with nothing but :mod:`struct`.

Radar networks deliver ASTERIX as UDP (often multicast), and recordings of those feeds
are pcap files. Only the classic format is read (not pcapng): micro- or nanosecond
timestamps, either byte order, on Ethernet (with 802.1Q VLAN tags), Linux cooked (SLL),
BSD loopback and raw-IP links. IPv4 only; non-first IP fragments and non-UDP packets are
skipped (ASTERIX datagrams are small enough not to fragment in practice).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_SLL = 0, 1, 101, 113
LINKTYPE_IPV4 = 228
ETHERTYPE_IPV4, ETHERTYPE_VLAN, ETHERTYPE_QINQ = 0x0800, 0x8100, 0x88A8
IPPROTO_UDP = 17


class PcapError(ValueError):
    """The file is not a classic pcap capture we can read."""


def is_pcap(head: bytes) -> bool:
    """True when ``head`` (the first 4+ bytes of a file) is a classic pcap magic number."""
    return head[:4] in PCAP_MAGICS


def _ip_packet(linktype: int, frame: bytes) -> bytes | None:
    """Strip the link layer; return the IPv4 packet or ``None`` for anything else."""
    if linktype == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            return None
        (ethertype,) = struct.unpack_from("!H", frame, 12)
        off = 14
        while ethertype in (ETHERTYPE_VLAN, ETHERTYPE_QINQ) and len(frame) >= off + 4:
            (ethertype,) = struct.unpack_from("!H", frame, off + 2)
            off += 4
        return frame[off:] if ethertype == ETHERTYPE_IPV4 else None
    if linktype == LINKTYPE_SLL:
        if len(frame) < 16 or struct.unpack_from("!H", frame, 14)[0] != ETHERTYPE_IPV4:
            return None
        return frame[16:]
    if linktype == LINKTYPE_NULL:
        return frame[4:] if len(frame) > 4 and frame[:4] in (b"\x02\0\0\0", b"\0\0\0\x02") else None
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4):
        return frame if frame[:1] and frame[0] >> 4 == 4 else None
    return None


def udp_payload(linktype: int, frame: bytes) -> bytes | None:
    """The UDP payload of one captured frame, or ``None`` if it is not IPv4/UDP."""
    ip = _ip_packet(linktype, frame)
    if ip is None or len(ip) < 20 or ip[0] >> 4 != 4:
        return None
    ihl = (ip[0] & 0x0F) * 4
    total_len, frag, proto = struct.unpack_from("!H2xHxB", ip, 2)
    if proto != IPPROTO_UDP or frag & 0x1FFF or ihl < 20:
        return None
    ip = ip[: min(total_len, len(ip))] if total_len >= ihl else ip
    udp = ip[ihl:]
    if len(udp) < 8:
        return None
    (udp_len,) = struct.unpack_from("!H", udp, 4)
    end = udp_len if 8 <= udp_len <= len(udp) else len(udp)
    return udp[8:end]


def read_pcap_udp_payloads(path: str | Path) -> Iterator[tuple[float, bytes]]:
    """Yield ``(timestamp, udp_payload)`` for each UDP/IPv4 packet of a classic pcap file.

    ``timestamp`` is the capture time in UTC epoch seconds. A file cut short mid-packet
    (a capture killed while writing) ends the iteration with a warning, not an error.

    >>> next(read_pcap_udp_payloads("cat_034_048.pcap"))  # doctest: +SKIP
    (1462433756.50891, b'0\\x000\\xfd...')
    """
    with open(path, "rb") as fh:
        header = fh.read(24)
        if len(header) < 24 or not is_pcap(header):
            raise PcapError(f"{path}: not a classic libpcap file (pcapng is not supported)")
        endian, tick = PCAP_MAGICS[header[:4]]
        (linktype,) = struct.unpack_from(endian + "I", header, 20)
        linktype &= 0x0FFFFFFF
        rec = struct.Struct(endian + "IIII")
        n = 0
        while True:
            head = fh.read(16)
            if not head:
                return
            if len(head) < 16:
                log.warning("pcap %s: truncated record header after packet %d", path, n)
                return
            sec, frac, incl, _orig = rec.unpack(head)
            frame = fh.read(incl)
            if len(frame) < incl:
                log.warning(
                    "pcap %s: packet %d cut short (%d of %d bytes)", path, n + 1, len(frame), incl
                )
                return
            n += 1
            payload = udp_payload(linktype, frame)
            if payload is not None:
                yield sec + frac * tick, payload
