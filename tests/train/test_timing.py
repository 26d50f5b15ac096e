"""Paired timing: the median ratio's interval holds the median and says the coverage it really has."""

from __future__ import annotations

import itertools
import random

import pytest

from t2i_train.timing import coverage, median_interval, paired_ratio


@pytest.mark.parametrize("n", [1, 2, 5, 6, 9, 15, 40])
def test_the_interval_is_two_order_statistics_around_the_median(n):
    rng = random.Random(n)
    values = [rng.lognormvariate(0, 0.3) for _ in range(n)]
    low, high = median_interval(values)
    xs = sorted(values)
    assert low in xs and high in xs and low <= xs[(n - 1) // 2] <= xs[n // 2] <= high
    assert xs.index(low) == n - 1 - xs.index(high)  # symmetric in rank


def test_coverage_is_the_binomial_one_and_reaches_95_percent_from_six_rounds():
    assert coverage(5, 1) == pytest.approx(1 - 2 / 32)  # the whole range of 5 values: 93.75 %
    assert coverage(6, 1) == pytest.approx(1 - 2 / 64)
    assert coverage(9, 2) == pytest.approx(1 - 2 * 10 / 512)


def test_paired_ratio_reports_b_over_a_and_the_coverage_it_reached():
    ticks = itertools.count()
    clock = {"now": 0.0}

    def work(seconds):
        def run():
            next(ticks)
            clock["now"] += seconds
        return run

    import t2i_train.timing as timing

    real = timing.time.perf_counter
    timing.time.perf_counter = lambda: clock["now"]
    try:
        ratio = paired_ratio(work(1.0), work(1.5), rounds=5)
    finally:
        timing.time.perf_counter = real
    assert ratio.median == ratio.low == ratio.high == pytest.approx(1.5)
    assert ratio.rounds == 5 and ratio.confidence == pytest.approx(1 - 2 / 32)
    assert "94% interval" in str(ratio)  # not a 95 % claim that 5 rounds cannot make
    assert next(ticks) == 2 * (5 + 1)  # a warm-up call of each, then one of each per round
