"""The model-family rules (t2i_host/families.py): which adapter may guide which checkpoint."""

from types import SimpleNamespace

import pytest

from t2i_host.families import SD1, SD2, SDXL, UNKNOWN, adapter_fits, check_family, checkpoint_family
from t2i_host.unit_args import UnitArgsError


@pytest.mark.parametrize(
    ("flags", "family"),
    [
        ({}, SD1),  # A1111 sets no flag for SD1
        ({"is_sd2": True}, SD2),
        ({"is_sdxl": True}, SDXL),
        ({"is_sd3": True}, "SD3"),
        ({"is_sd1": True, "is_sd2": False, "is_sdxl": False, "is_sd3": False}, SD1),  # Forge's SD1.5 engine
    ],
)
def test_family_from_the_model_flags(flags, family):
    assert checkpoint_family(SimpleNamespace(**flags)) == family


def test_forge_model_of_another_family_is_named_by_its_class():
    class Flux:  # Forge sets every is_* flag False on Flux
        is_sd1 = is_sd2 = is_sdxl = is_sd3 = False

    assert checkpoint_family(Flux()) == "Flux"


@pytest.mark.parametrize("family", ["SD3", "Flux"])
def test_families_without_input_blocks_are_refused_naming_the_family(family):
    with pytest.raises(UnitArgsError) as e:
        check_family(SD1, "full", family, "canny [0123abcd]", 1)
    assert e.value.field == "model" and e.value.unit == 1
    assert family in str(e.value) and "SD1.x, SD2.x or SDXL" in str(e.value)


def test_sd1_adapter_on_sd2_is_allowed_with_a_caveat_unless_switched_off():
    assert check_family(SD1, "full", SD2, "canny", 0) is True
    assert check_family(SD1, "full", SD1, "canny", 0) is False
    with pytest.raises(UnitArgsError, match="switched off"):
        check_family(SD1, "full", SD2, "canny", 0, allow_sd1_on_sd2=False)


@pytest.mark.parametrize("kind", ["style", "fuser"])
def test_style_and_fuser_need_sd1(kind):
    check_family(SD1, kind, SD1, "x", 0)
    for family in (SD2, SDXL):
        with pytest.raises(UnitArgsError, match="768-wide"):
            check_family(SD1, kind, family, "x", 0)


@pytest.mark.parametrize(
    ("base", "kind", "family", "listed"),
    [
        (SD1, "full", SD1, True),
        (SD1, "light", SD2, True),
        (SD1, "style", SD2, False),
        (SD1, "fuser", SDXL, False),
        (SDXL, "full", SDXL, True),
        (SDXL, "full", SD1, False),
        (SD1, "full", SDXL, False),
        (SD1, "full", "SD3", False),
        (UNKNOWN, UNKNOWN, SDXL, True),  # only the load can tell: listed, checked by the job
    ],
)
def test_model_list_shows_what_the_job_accepts(base, kind, family, listed):
    assert adapter_fits(base, kind, family) is listed
