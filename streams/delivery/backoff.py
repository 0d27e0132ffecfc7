"""Exponential back-off with jitter, shared by the TAK sender and the webhook retries.

Jitter spreads the reconnects of many workers after a shared outage (a TAK server
restart) so they do not all hit the server in the same instant.
"""

from __future__ import annotations

import random


def backoff_delay(
    attempt: int, base_s: float, max_s: float, rng: random.Random | None = None
) -> float:
    """Delay before retry ``attempt`` (0-based): ``base·2^attempt`` capped at ``max_s``,
    then "equal jitter" — uniform in [cap/2, cap] — so it never collapses to zero."""
    cap = min(max_s, base_s * (2.0 ** max(attempt, 0)))
    return cap * (0.5 + 0.5 * (rng or random).random())
