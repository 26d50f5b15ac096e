"""Registry: lookup, parameter validation and the output contract."""

from __future__ import annotations

import numpy as np
import pytest

import annotators
from annotators import Param, UnknownAnnotatorError


def test_every_offline_annotator_is_registered():
    from tests.annotators.conftest import OFFLINE_ANNOTATORS

    registered = set(annotators.names())
    for name in (*OFFLINE_ANNOTATORS, "openpose_mediapipe", "keypose_mediapipe"):
        assert name in registered
        assert annotators.get(name).weights == ()  # offline: no weight file


def test_unknown_annotator_error_lists_the_valid_names():
    with pytest.raises(UnknownAnnotatorError) as info:
        annotators.get("cany")
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    message = str(info.value)
    assert "'cany'" in message and "canny" in message and "sketch_xdog" in message


def test_unknown_parameter_is_named_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"no parameter 'low'.*low_threshold, high_threshold"):
        annotators.run("canny", np.zeros((8, 8, 3), np.uint8), low=3)


@pytest.mark.parametrize("value", [0, 256, -5, 1e9])
def test_out_of_range_value_names_the_parameter_and_range(value):
    with pytest.raises(ValueError, match=r"'low_threshold'.*out of range.*\[1, 255\]"):
        annotators.run("canny", np.zeros((8, 8, 3), np.uint8), low_threshold=value)


@pytest.mark.parametrize("value", ["abc", 1.5, float("nan"), None, True])
def test_wrong_type_for_an_int_parameter_is_rejected(value):
    with pytest.raises(ValueError, match="'high_threshold'"):
        annotators.run("canny", np.zeros((8, 8, 3), np.uint8), high_threshold=value)


def test_string_values_from_cli_or_api_are_converted():
    canny = annotators.get("canny")
    assert canny.validate({"low-threshold": "50"}) == {"resolution": 0, "low_threshold": 50, "high_threshold": 200}
    assert annotators.get("binary").validate({"dark_lines": "false"})["dark_lines"] is False


def test_param_describes_its_range_for_listings():
    assert Param("t", 3, 1, 9, 2, "T").describe() == "t=3 [1..9, step 2]"


def test_register_decorator_and_duplicate_name(monkeypatch):
    calls = []

    @annotators.register(
        "test_identity_edge", output="edge", params=(Param("gain", 1.0, 0.0, 2.0, 0.1),), suits=("zz_test",)
    )
    def ident(image, *, gain):
        calls.append(gain)
        return image[:, :, 0].copy()

    try:
        out = annotators.run("test_identity_edge", np.full((3, 4), 7, np.uint8), gain=0.5)
        assert out.shape == (3, 4) and calls == [0.5]
        assert [a.name for a in annotators.for_adapter("t2iadapter_zz_test_sd14v1.pth")] == ["test_identity_edge"]
        with pytest.raises(ValueError, match="already registered"):
            annotators.register("test_identity_edge", output="edge")(ident)
    finally:
        annotators.unregister("test_identity_edge")
    assert "test_identity_edge" not in annotators.names()


def test_annotator_breaking_the_output_contract_is_caught():
    annotators.register("test_bad_size", output="rgb")(lambda image: image[:2])
    try:
        with pytest.raises(annotators.AnnotatorOutputError, match="test_bad_size"):
            annotators.run("test_bad_size", np.zeros((8, 8, 3), np.uint8))
    finally:
        annotators.unregister("test_bad_size")


def test_invalid_declarations_are_rejected():
    with pytest.raises(ValueError, match="output"):
        annotators.register("test_x", output="depthish")(lambda image: image)
    with pytest.raises(ValueError, match="out of range"):  # default outside its own range
        annotators.register("test_y", params=(Param("p", 5, 0, 1),))(lambda image, p: image)
    with pytest.raises(ValueError, match="needs a name"):
        annotators.register(output="edge")(lambda image: image)
    assert "test_x" not in annotators.names() and "test_y" not in annotators.names()


def test_adapters_find_their_annotators():
    assert "canny" in [a.name for a in annotators.for_adapter("t2iadapter_canny_sd15v2.pth")]
    assert "color_palette" in [a.name for a in annotators.for_adapter("coadapter-color-sd15v1")]
    assert "openpose_mediapipe" in [a.name for a in annotators.for_adapter("adapter-xl-openpose.pth")]
    assert "keypose_mediapipe" in [a.name for a in annotators.for_adapter("t2iadapter_keypose_sd14v1")]


def test_importing_the_package_loads_no_heavy_library():
    """The WebUI and API import `annotators` at start-up: torch/mediapipe/transformers load only when used."""
    import subprocess
    import sys

    code = (
        "import sys, annotators; "
        "print(sorted(m for m in ('torch', 'mediapipe', 'transformers', 'matplotlib') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_decorated_function_names_and_describes_its_annotator():
    def test_named_by_function(image):
        """Grey lines on black, for
        the listing.

        Internals that the listing leaves out."""
        return image[:, :, 0].copy()

    annotators.register(output="edge")(test_named_by_function)
    try:
        entry = annotators.get("test_named_by_function")
        assert entry.description == "Grey lines on black, for the listing."
        assert annotators.register("test_given", description="Given.")(test_named_by_function)
        assert annotators.get("test_given").description == "Given."
    finally:
        annotators.unregister("test_named_by_function")
        annotators.unregister("test_given")
