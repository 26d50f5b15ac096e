"""The self-test's timing line: a median of paired per-round ratios, and it says when the rounds disagree."""

from t2i_ext.selftest import SelftestResult, format_result


def result(ratios):
    return SelftestResult(0.025, 14.7, 1000.0, 1000.0 * ratios[len(ratios) // 2], True, tuple(ratios))


def test_the_ratio_is_the_median_of_paired_rounds_not_a_ratio_of_medians():
    r = result([1.02, 0.98, 1.00])
    assert r.time_ratio == 1.00
    assert "(×1.000, median of 3 paired rounds, range ×0.980–×1.020)" in format_result(r, 256, 8)


def test_rounds_that_disagree_are_flagged_instead_of_trusted():
    assert "rounds disagree: the machine is busy" in format_result(result([0.72, 0.75, 0.99]), 256, 8)
