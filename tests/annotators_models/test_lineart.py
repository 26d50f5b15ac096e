"""Lineart generator (sk_model.pth / sk_model2.pth): published key names, strict load, and the annotator's
white-lines-on-black convention (255 - the network's black-on-white drawing)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import annotators
import annotators.lineart as lineart_annotator
from annotators import weights
from annotators.nets import parameter_count
from annotators.nets.lineart_generator import LineartGenerator

# carolineec/informative-drawings model.py Generator(3, 1, 3) / ControlNet-v1-1-nightly annotator/lineart.
PUBLISHED = {
    "model0.1.weight": (64, 3, 7, 7),
    "model0.1.bias": (64,),
    "model1.0.weight": (128, 64, 3, 3),
    "model1.3.weight": (256, 128, 3, 3),
    "model2.0.conv_block.1.weight": (256, 256, 3, 3),
    "model2.2.conv_block.5.bias": (256,),
    "model3.0.weight": (256, 128, 3, 3),  # ConvTranspose2d: [in, out, k, k]
    "model3.3.weight": (128, 64, 3, 3),
    "model4.1.weight": (1, 64, 7, 7),
}


@pytest.fixture(scope="module")
def published_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lineart")
    nets = {}
    for seed, name in enumerate((lineart_annotator.WEIGHTS, lineart_annotator.WEIGHTS_COARSE)):
        torch.manual_seed(seed)
        net = LineartGenerator().eval()
        torch.save(net.state_dict(), folder / name)  # published as a plain state dict
        nets[name] = net
    return folder, nets


def test_generator_has_the_published_key_names_shapes_and_size():
    sd = LineartGenerator().state_dict()
    for key, shape in PUBLISHED.items():
        assert tuple(sd[key].shape) == shape, key
    assert len(sd) == 24  # InstanceNorm without affine: no norm keys
    assert parameter_count(LineartGenerator()) == 4_290_945  # x4 bytes ~ the published 17,173,511-byte files


def test_annotator_returns_inverted_network_output_white_lines_on_black(published_files, monkeypatch):
    folder, nets = published_files
    monkeypatch.setenv(weights.ENV_MODELS_DIR, str(folder))
    lineart_annotator._model.cache_clear()
    img = np.random.default_rng(0).integers(0, 256, (64, 48, 3), dtype=np.uint8)
    fine = annotators.run("lineart_realistic", img, resolution=0)
    coarse = annotators.run("lineart_realistic", img, resolution=0, coarse=True)
    assert fine.shape == (64, 48) and fine.dtype == np.uint8
    with torch.no_grad():
        paper = nets[lineart_annotator.WEIGHTS](torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0)
    want = ((1.0 - paper[0, 0].numpy()) * 255.0).round().astype(np.uint8)
    assert np.abs(fine.astype(int) - want.astype(int)).max() <= 1
    assert not np.array_equal(fine, coarse)  # the coarse flag picks the other file
    lineart_annotator._model.cache_clear()


def test_odd_sizes_are_padded_and_cropped_back(published_files, monkeypatch):
    folder, _ = published_files
    monkeypatch.setenv(weights.ENV_MODELS_DIR, str(folder))
    lineart_annotator._model.cache_clear()
    img = np.random.default_rng(1).integers(0, 256, (37, 29, 3), dtype=np.uint8)
    out = annotators.run("lineart_realistic", img, resolution=0)
    assert out.shape == (37, 29) and out.dtype == np.uint8
    lineart_annotator._model.cache_clear()
