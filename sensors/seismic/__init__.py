"""Seismic ground sensors: miniSEED reading, STA/LTA detection, footstep/vehicle classes.

Public API:
  read_mseed(path | bytes) -> list[Trace]                 (sensors.seismic.mseed)
  SeismicDetector(rate_hz, params).feed(samples, t0)      (sensors.seismic.stream)
  detect_trace(trace, params), coincidence(dets, n, w)    (sensors.seismic.detect)
  classify(y, rate_hz)                                    (sensors.seismic.classify)
"""

from sensors.seismic.classify import Classification, classify
from sensors.seismic.detect import ChannelDetection, Coincidence, coincidence, detect_trace
from sensors.seismic.mseed import MiniSeedError, Trace, read_mseed
from sensors.seismic.params import DetectorParams
from sensors.seismic.stream import SeismicDetector

__all__ = [
    "ChannelDetection",
    "Classification",
    "Coincidence",
    "DetectorParams",
    "MiniSeedError",
    "SeismicDetector",
    "Trace",
    "classify",
    "coincidence",
    "detect_trace",
    "read_mseed",
]
