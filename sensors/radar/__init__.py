"""Radar decoders: ASTERIX CAT048 (raw blocks or pcap captures) to radar readings (§4)."""

from sensors.problems import DecodeProblem
from sensors.radar.cat048 import (
    DEFAULT_EDITION,
    DecodeStats,
    EditionError,
    decode_asterix_blocks,
    decode_asterix_file,
    known_editions,
    parse_sensor_map,
    resolve_edition,
    sensor_id_for,
    tod_to_epoch,
)
from sensors.radar.pcap import PcapError, read_pcap_udp_payloads

__all__ = [
    "DEFAULT_EDITION",
    "DecodeProblem",
    "DecodeStats",
    "EditionError",
    "PcapError",
    "decode_asterix_blocks",
    "decode_asterix_file",
    "known_editions",
    "parse_sensor_map",
    "read_pcap_udp_payloads",
    "resolve_edition",
    "sensor_id_for",
    "tod_to_epoch",
]
