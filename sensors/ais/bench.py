"""Throughput of :class:`AisDecoder` on a capture, replayed in a loop.

    python -m sensors.ais.bench ../shared/data/ais/pyais/nmea_data_sample.txt --seconds 5

Prints sentences (input lines) per second on one core, including framing, checksum,
reassembly, pyais decode, plausibility checks and the static-data merge.
"""

from __future__ import annotations

import argparse
import time

from sensors.ais.decoder import AisDecoder


def run(lines: list[str], seconds: float) -> tuple[int, float, int]:
    """Feed ``lines`` repeatedly for about ``seconds``; return (lines fed, elapsed, outputs)."""
    dec = AisDecoder()
    fed = outputs = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for line in lines:
            outputs += len(dec.feed(line, "bench", 0.0))
        fed += len(lines)
    return fed, time.perf_counter() - t0, outputs


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("file")
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args(argv)
    with open(args.file, encoding="utf-8", errors="replace") as f:
        lines = [x for x in f.read().splitlines() if x.strip()]
    fed, elapsed, outputs = run(lines, args.seconds)
    print(f"{fed} lines in {elapsed:.2f} s: {fed / elapsed:,.0f} sentences/s ({outputs} outputs)")


if __name__ == "__main__":
    main()
