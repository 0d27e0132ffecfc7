"""AIS decoding (NMEA 0183 ``!AIVDM``/``!AIVDO`` via pyais) into canonical records.

>>> from sensors.ais import AisDecoder
>>> out = AisDecoder().feed("!AIVDM,1,1,,A,13HOI:0P0000VOHLCnHQKwvL05Ip,0*23", station_id="A1")
"""

from sensors.ais.decoder import AisDecoder
from sensors.ais.model import CANONICAL_FIELDS, REASONS, AisRecord, AisRejection
from sensors.ais.summary import RejectionSummary

__all__ = [
    "CANONICAL_FIELDS",
    "REASONS",
    "AisDecoder",
    "AisRecord",
    "AisRejection",
    "RejectionSummary",
]
