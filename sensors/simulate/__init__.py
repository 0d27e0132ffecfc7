"""Scenario simulator: a synthetic river + forest border with targets, sensors and truth.

``build_scenario`` generates everything in memory, ``write_scenario`` writes a scenario
directory (DESIGN §8), and :mod:`.live` paces readings for streaming into Kafka.
"""

from .layout import LAYOUTS, Layout, build_layout
from .live import endless, iter_timed, stream
from .scenario import DEFAULT_START, Scenario, build_scenario
from .writer import write_scenario

__all__ = [
    "DEFAULT_START",
    "LAYOUTS",
    "Layout",
    "Scenario",
    "build_layout",
    "build_scenario",
    "endless",
    "iter_timed",
    "stream",
    "write_scenario",
]
