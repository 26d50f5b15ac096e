"""Comparing the cost of two ways of doing one job on a machine that other work shares.

Each round runs both once, back to back, alternating which goes first; the round's ratio cancels the load drift
between rounds, and the median of the ratios comes with a distribution-free interval (job times on a shared machine
have long right tails, so nothing here assumes normality). Used by the showcase and the benchmarks.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


def _order_index(n: int, confidence: float) -> int:
    """The largest ``k ≥ 1`` whose interval ``(x_k, x_{n+1-k})`` still covers the median with ``confidence``."""
    k, below = 0, 0.0  # below = P(B(n, 1/2) < k + 1)
    while k + 1 <= n // 2:
        below += math.comb(n, k) / 2**n
        if 1 - 2 * below < confidence:
            break
        k += 1
    return max(k, 1)


def coverage(n: int, k: int) -> float:
    """How often ``(x_k, x_{n+1-k})`` of ``n`` values holds their distribution's median: ``1 - 2·P(B(n, ½) < k)``."""
    return 1 - 2 * sum(math.comb(n, j) for j in range(k)) / 2**n


def median_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """A distribution-free interval for the median: the order statistics ``(x_k, x_{n+1-k})`` with the largest ``k``
    whose binomial coverage ``1 - 2·P(B(n, ½) < k)`` is still ≥ ``confidence`` (no normality assumed: job times on a
    shared machine have long right tails). Too few values for that coverage: the whole range."""
    xs = sorted(values)
    n = len(xs)
    if n == 0:
        raise ValueError("no values")
    k = _order_index(n, confidence)
    return xs[k - 1], xs[n - k]


@dataclass(frozen=True)
class Ratio:
    """``b``'s time / ``a``'s time: the median over paired rounds and its interval."""

    median: float
    low: float
    high: float
    rounds: int
    confidence: float  # the interval's coverage

    def __str__(self) -> str:
        return (f"×{self.median:.2f}, {self.confidence:.0%} interval ×{self.low:.2f}–×{self.high:.2f} (median of "
                f"{self.rounds} paired rounds)")


def paired_ratio(a: Callable[[], object], b: Callable[[], object], rounds: int, confidence: float = 0.95,
                 on_round: Callable[[], None] | None = None) -> Ratio:
    """Time ``a`` and ``b`` in ``rounds`` interleaved rounds (after one warm-up call of each) and compare them."""
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    a(), b()  # warm-up: first calls pay for allocations, not for the work compared
    ratios = []
    for i in range(rounds):
        seconds = {}
        for name, fn in (("a", a), ("b", b)) if i % 2 == 0 else (("b", b), ("a", a)):
            t0 = time.perf_counter()
            fn()
            seconds[name] = time.perf_counter() - t0
        ratios.append(seconds["b"] / seconds["a"])
        if on_round is not None:
            on_round()
    low, high = median_interval(ratios, confidence)
    # the coverage actually reached: below about 6 rounds even the whole range covers less than 95 %
    return Ratio(statistics.median(ratios), low, high, rounds, coverage(rounds, _order_index(rounds, confidence)))
