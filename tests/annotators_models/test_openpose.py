"""OpenPose body: the network's published key layout (flat names in the file), a strict load and forward pass,
the heatmap/PAF decoding on synthetic maps, and the empty-map behaviour when nobody is found."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

import annotators
import annotators.openpose as openpose_annotator
from annotators import weights
from annotators.nets import parameter_count
from annotators.nets.openpose_body import BodyPoseNet, from_published
from annotators.openpose_decode import LIMB_PAF, LIMBS, decode_people
from annotators.pose_draw import OPENPOSE_COLORS

# Hzzone/pytorch-openpose model.py bodypose_model (ControlNet-v1-1-nightly annotator/openpose/model.py); the
# published file holds these names without the "modelX_Y." block prefix (util.transfer adds it).
PUBLISHED = {
    "conv1_1.weight": (64, 3, 3, 3),
    "conv4_4_CPM.weight": (128, 256, 3, 3),
    "conv5_4_CPM_L1.weight": (512, 128, 1, 1),
    "conv5_5_CPM_L1.weight": (38, 512, 1, 1),
    "conv5_5_CPM_L2.weight": (19, 512, 1, 1),
    "Mconv1_stage2_L1.weight": (128, 185, 7, 7),
    "Mconv6_stage4_L2.weight": (128, 128, 1, 1),
    "Mconv7_stage6_L1.weight": (38, 128, 1, 1),
    "Mconv7_stage6_L2.bias": (19,),
}

FIGURE = np.array(
    [
        (100, 40),
        (100, 70),
        (75, 72),
        (65, 105),
        (60, 135),
        (125, 72),
        (135, 105),
        (140, 135),
        (88, 140),
        (86, 180),
        (85, 220),
        (112, 140),
        (114, 180),
        (115, 220),
        (94, 34),
        (106, 34),
        (86, 38),
        (114, 38),
    ],
    dtype=float,
)


def _synthetic_maps(people: list[np.ndarray], h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian confidence peaks at each part and unit PAF vectors within 2 px of each limb."""
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    heat = np.zeros((h, w, 19), np.float32)
    paf = np.zeros((h, w, 38), np.float32)
    for pts in people:
        for i, (x, y) in enumerate(pts):
            heat[:, :, i] = np.maximum(heat[:, :, i], np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.0**2)))
        for (a, b), (cx, cy) in zip(LIMBS, LIMB_PAF):
            pa, pb = pts[a], pts[b]
            d = pb - pa
            length = np.hypot(*d)
            u = d / length
            t = ((xx - pa[0]) * u[0] + (yy - pa[1]) * u[1]) / length
            dist = np.abs((xx - pa[0]) * u[1] - (yy - pa[1]) * u[0])
            on = (t >= 0) & (t <= 1) & (dist <= 2)
            paf[:, :, cx][on], paf[:, :, cy][on] = u[0], u[1]
    return heat, paf


def test_network_has_the_published_layer_names_shapes_and_size():
    net = BodyPoseNet()
    flat = {k.split(".", 1)[1]: v for k, v in net.state_dict().items()}
    for key, shape in PUBLISHED.items():
        assert tuple(flat[key].shape) == shape, key
    assert len(flat) == 184
    # The original's no-ReLU list names Mconv7_stage6_L1 twice and omits ..._L2: final heatmaps pass a ReLU.
    assert isinstance(list(net.model6_2)[-1], torch.nn.ReLU) and isinstance(list(net.model6_1)[-1], torch.nn.Conv2d)
    assert isinstance(list(net.model5_2)[-1], torch.nn.Conv2d)
    assert parameter_count(net) == 52_311_446  # x4 bytes ~ the published 209,267,595-byte file


def test_synthetic_maps_decode_to_the_drawn_people():
    second = FIGURE + np.array([200.0, 10.0])
    heat, paf = _synthetic_maps([FIGURE, second], 260, 400)
    people = decode_people(heat, paf)
    assert len(people) == 2
    people.sort(key=lambda p: p[1, 0])
    for got, want in zip(people, (FIGURE, second)):
        assert got.shape == (18, 2) and np.isfinite(got).all()
        assert np.abs(got - want).max() <= 1.0


def test_missing_limbs_leave_nan_parts_and_weak_people_are_dropped():
    heat, paf = _synthetic_maps([FIGURE], 260, 220)
    heat[:, :, 10] = 0  # no right ankle
    (person,) = decode_people(heat, paf)
    assert np.isnan(person[10]).all() and np.isfinite(np.delete(person, 10, axis=0)).all()
    only_head = heat.copy()
    only_head[:, :, 1:] = 0  # a lone nose is not a person (fewer than 4 parts)
    assert decode_people(only_head, paf) == []


@pytest.fixture(scope="module")
def published_file(tmp_path_factory):
    torch.manual_seed(0)
    net = BodyPoseNet().eval()
    with torch.no_grad():  # final heatmaps all zero: "nobody here", whatever the random features
        net.model6_2.Mconv7_stage6_L2.weight.zero_()
        net.model6_2.Mconv7_stage6_L2.bias.zero_()
    flat = {k.split(".", 1)[1]: v for k, v in net.state_dict().items()}
    path = tmp_path_factory.mktemp("openpose") / openpose_annotator.WEIGHTS
    torch.save(flat, path)
    return path, net


def test_flat_published_file_loads_strictly_and_matches(published_file):
    path, reference = published_file
    openpose_annotator._model.cache_clear()
    net = openpose_annotator._model(str(path))
    x = torch.rand(1, 3, 48, 40) - 0.5
    with torch.no_grad():
        (paf, heat), (want_paf, want_heat) = net(x), reference(x)
    assert paf.shape == (1, 38, 6, 5) and heat.shape == (1, 19, 6, 5)
    assert torch.equal(paf, want_paf) and torch.equal(heat, want_heat)
    assert from_published(reference.state_dict(), reference).keys() == reference.state_dict().keys()
    openpose_annotator._model.cache_clear()


def test_no_person_gives_a_black_map_and_a_warning(published_file, monkeypatch, caplog):
    path, _ = published_file
    monkeypatch.setenv(weights.ENV_MODELS_DIR, str(path.parent))
    openpose_annotator._model.cache_clear()
    img = np.full((90, 70, 3), 127, np.uint8)
    with caplog.at_level(logging.WARNING, logger="annotators"):
        out = annotators.run("openpose", img, resolution=0)
    openpose_annotator._model.cache_clear()
    assert out.shape == (90, 70, 3) and out.dtype == np.uint8 and not out.any()
    assert "no person" in caplog.text


def test_detected_people_are_drawn_as_openpose_skeletons_at_input_size(monkeypatch):
    monkeypatch.setattr(openpose_annotator, "detect_people", lambda image, resolution: [FIGURE.copy()])
    out = annotators.run("openpose", np.zeros((260, 220, 3), np.uint8))
    assert out.shape == (260, 220, 3)
    x, y = FIGURE[0].astype(int)
    assert tuple(out[y, x]) != (0, 0, 0)  # a joint is drawn at the nose
    assert out[0:20].sum() == 0  # nothing above the head
    colours = {tuple(c) for c in out.reshape(-1, 3)}
    assert any(c in colours for c in OPENPOSE_COLORS)
