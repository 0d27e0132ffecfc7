"""kafka-python's record-batch CRC-32C in C (google-crc32c) instead of pure Python.

Every v2 record batch carries a CRC-32C: kafka-python computes it for each batch it
produces (the gateways' ``KafkaPusher``, the forwarder) and checks it on each batch it
fetches (``check_crcs``, on by default: replay via Kafka, tools, tests). Unless the
``crc32c`` package is installed (LGPL, so not in our default install) it does so in pure
Python at ~150 ms per MB: ~10 µs per reading of a 500-reading gateway batch, and a fifth of
a core for a reader of the workers' output at 10 000 readings/s. google-crc32c
(Apache-2.0, Google's C implementation) does the same sum at ~0.1 ms per MB.
"""

from __future__ import annotations

from typing import Any


def install() -> bool:
    """Point kafka-python's CRC-32C at google-crc32c's C code (idempotent).

    False when kafka-python already has a C implementation (``crc32c``) or google-crc32c is
    missing or only its pure-Python fallback is there: then nothing changes."""
    from kafka.record import default_records, util

    if getattr(util, "crc32c_c", None) is not None:
        return False  # kafka-python found the crc32c package itself
    try:
        import google_crc32c
    except ImportError:  # pragma: no cover - a declared dependency
        return False
    if google_crc32c.implementation != "c":  # pragma: no cover - a wheel without its C part
        return False
    value = google_crc32c.value

    def calc_crc32c(memview: Any) -> int:
        # google-crc32c takes read-only bytes; kafka-python passes memoryviews of bytearrays
        return int(value(bytes(memview)))

    util.calc_crc32c = calc_crc32c
    default_records.calc_crc32c = calc_crc32c
    return True
