"""What the whole-job benchmarks share: the condition image they send and how they compare job kinds."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import numpy as np


def condition_image(size: int, nonce: int = 0) -> np.ndarray:
    """A square outline; a nonzero ``nonce`` marks a few corner pixels so the feature cache has never seen it."""
    img = np.zeros((size, size, 3), np.uint8)
    img[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 255
    img[size // 4 + 4 : 3 * size // 4 - 4, size // 4 + 4 : 3 * size // 4 - 4] = 0
    img[0, :8] = np.frombuffer(nonce.to_bytes(8, "little"), np.uint8)[:, None]
    return img


def round_ratios(times: dict[str, list[float]], kind: str, reference: str = "plain") -> list[float]:
    """``kind``'s time / ``reference``'s time, round by round (drift between rounds cancels)."""
    return [t / r for t, r in zip(times[kind], times[reference])]


def paired_ratio(times: dict[str, list[float]], kind: str, reference: str = "plain") -> float:
    """Median over rounds of ``kind``'s time / ``reference``'s time in the same round."""
    return statistics.median(round_ratios(times, kind, reference))


def median_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """A distribution-free interval for the median: the order statistics ``(x_k, x_{n+1-k})`` with the largest ``k``
    whose binomial coverage ``1 - 2·P(B(n, ½) < k)`` is still ≥ ``confidence`` (no normality assumed: job times on a
    shared machine have long right tails). Too few values for that coverage: the whole range."""
    xs = sorted(values)
    n = len(xs)
    if n == 0:
        raise ValueError("no values")
    k, below = 0, 0.0  # below = P(B(n, 1/2) < k + 1)
    while k + 1 <= n // 2:
        below += math.comb(n, k) / 2**n
        if 1 - 2 * below < confidence:
            break
        k += 1
    k = max(k, 1)
    return xs[k - 1], xs[n - k]
