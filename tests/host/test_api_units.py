"""API unit validation without a WebUI (t2i_host/api_units.py): the guard refuses what the job would refuse."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from t2i_host.api_units import ApiRules, validate_units
from t2i_host.model_store import ModelInfo
from t2i_host.unit_args import UnitArgs, UnitArgsError

MODELS = {
    "canny": ModelInfo(Path("canny.safetensors"), "full", "SD1", "models"),
    "xl": ModelInfo(Path("xl.safetensors"), "full", "SDXL", "models"),
    "fuser": ModelInfo(Path("coadapter-fuser.pth"), "fuser", "SD1", "models"),
}


def png() -> str:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def find(name, unit):
    if name not in MODELS:
        raise UnitArgsError(f"no adapter model '{name}'", "model", unit)
    return MODELS[name]


def validate_canny(module, params):
    if not 0 <= params.get("low_threshold", 100) <= 255:
        raise ValueError("low_threshold out of range")


def rules(**changes) -> ApiRules:
    base = dict(
        unit_count=3,
        parse=UnitArgs.parse,
        known_modules={"canny"},
        find_model=find,
        title=lambda info: info.path.stem,
        family="SD1",
        allow_sd1_on_sd2=True,
        annotator_params=lambda module: [("low_threshold", int), ("high_threshold", int)],
        validate_annotator=validate_canny,
    )
    return ApiRules(**{**base, **changes})


def refused(units, request=None, **changes) -> UnitArgsError:
    with pytest.raises(UnitArgsError) as e:
        validate_units(units, request, rules(**changes))
    return e.value


def test_a_good_unit_passes_and_disabled_units_are_not_checked():
    validate_units([{"model": "canny", "image": png()}, {"enabled": False, "model": "nope"}], None, rules())


def test_more_units_than_configured_names_args():
    assert refused([{"enabled": False}] * 4).field == "args"


def test_wrong_family_names_the_model_unless_the_family_is_not_known_yet():
    assert refused([{"model": "xl", "image": png()}]).field == "model"
    validate_units([{"model": "xl", "image": png()}], None, rules(family=None))  # a checkpoint switch is pending


def test_missing_image_names_image_except_for_img2img_and_the_fuser():
    assert refused([{"model": "canny"}]).field == "image"
    validate_units([{"model": "canny"}], {"init_images": [png()]}, rules())
    validate_units([{"model": "fuser"}], None, rules())


def test_image_count_follows_the_batch_rule():
    three = {"model": "canny", "image": [png()] * 3}
    assert refused([three], {"batch_size": 2}).field == "image"
    validate_units([{"model": "canny", "image": [png()] * 4}], {"batch_size": 2, "n_iter": 2}, rules())


def test_annotator_settings_are_refused_like_the_job_refuses_them():
    e = refused([{"model": "canny", "image": png(), "module": "canny", "threshold_a": 300}])
    assert e.field == "module" and "low_threshold" in str(e)


def test_a_missing_annotator_weight_is_the_users_to_fix():
    def missing(module, params):
        raise FileNotFoundError("put pidinet.pth into models/annotators")

    e = refused([{"model": "canny", "image": png(), "module": "canny"}], validate_annotator=missing)
    assert e.field == "module" and "models/annotators" in str(e)


def test_a_weight_file_that_is_not_the_published_one_is_the_users_to_fix():
    class WeightsError(OSError):  # what annotators.weights raises for a file that does not match its network
        pass

    def mismatched(module, params):
        raise WeightsError("clip-vit-large-patch14.safetensors: the file does not match the network")

    e = refused([{"model": "canny", "image": png(), "module": "canny"}], validate_annotator=mismatched)
    assert e.field == "module" and "does not match" in str(e)
