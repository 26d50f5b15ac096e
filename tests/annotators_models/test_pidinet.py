"""PiDiNet (table5): published key names, strict load of a training-checkpoint-shaped file, the pixel-difference
ops against their definitions, and the T2I sketch convention (fused output > 0.5 -> white on black)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import annotators
import annotators.pidinet as pidinet_annotator
from annotators import weights
from annotators.nets import parameter_count
from annotators.nets.pidinet import PiDiNet, PixelDifferenceConv2d

# Names/shapes from hellozhuo/pidinet models/pidinet.py (PiDiNet(60, carv4, dil=24, sa=True)), as loaded by
# ControlNet-v1-1-nightly annotator/pidinet/__init__.py after stripping "module.".
PUBLISHED = {
    "init_block.weight": (60, 3, 3, 3),
    "block1_1.conv1.weight": (60, 1, 3, 3),
    "block1_3.conv2.weight": (60, 60, 1, 1),
    "block2_1.shortcut.weight": (120, 60, 1, 1),
    "block2_1.shortcut.bias": (120,),
    "block3_4.conv1.weight": (240, 1, 3, 3),
    "block4_1.shortcut.weight": (240, 240, 1, 1),
    "block4_4.conv2.weight": (240, 240, 1, 1),
    "dilations.0.conv1.weight": (24, 60, 1, 1),
    "dilations.3.conv2_4.weight": (24, 24, 3, 3),
    "attentions.2.conv1.weight": (4, 24, 1, 1),
    "attentions.2.conv2.weight": (1, 4, 3, 3),
    "conv_reduces.1.conv.weight": (1, 24, 1, 1),
    "classifier.weight": (1, 4, 1, 1),
    "classifier.bias": (1,),
}


@pytest.fixture(scope="module")
def published_file(tmp_path_factory):
    torch.manual_seed(0)
    net = PiDiNet().eval()
    with torch.no_grad():  # centre the fused logit so the random net gives both edge and non-edge pixels
        net.classifier.weight.fill_(20.0)
        net.classifier.bias.zero_()
        sample = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (67, 45, 3))).permute(2, 0, 1)[None] / 255.0
        fused = torch.logit(net(sample.float())[-1])
        net.classifier.bias.fill_(-fused.median().item())
    path = tmp_path_factory.mktemp("pidinet") / pidinet_annotator.WEIGHTS
    # The published file is a training checkpoint: {"state_dict": {"module.<name>": tensor}, ...}.
    torch.save({"epoch": 20, "state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}, path)
    return path, net


def test_network_has_the_published_key_names_and_shapes():
    sd = PiDiNet().state_dict()
    for key, shape in PUBLISHED.items():
        assert tuple(sd[key].shape) == shape, key
    assert not any("bias" in k for k in sd if k.startswith("init_block") or ".conv1." in k and k.startswith("block"))
    assert len(sd) == 83
    assert parameter_count(PiDiNet()) == 710_149  # "710K parameters" (PiDiNet paper, table 5)


def _neighbourhood(x: torch.Tensor, radius: int) -> torch.Tensor:
    """x [1, 1, H, W] -> [(2r+1)^2, H, W]: the value at each offset, zero padded."""
    k = 2 * radius + 1
    cols = F.unfold(x, k, padding=radius)
    return cols.reshape(k * k, *x.shape[2:])


def test_pixel_difference_ops_match_their_definitions():
    torch.manual_seed(1)
    x = torch.randn(1, 1, 9, 11)
    w = torch.randn(1, 1, 3, 3)
    flat = w.flatten()
    n3 = _neighbourhood(x, 1)
    conv = PixelDifferenceConv2d("cd", 1, 1)
    conv.weight.data.copy_(w)
    # CPDC: sum_k w_k (x_k - x_centre)
    want_cd = (flat[:, None, None] * (n3 - n3[4])).sum(0)
    assert torch.allclose(conv(x)[0, 0], want_cd, atol=1e-5)
    # APDC: sum_i w_i (x_i - x_{clockwise neighbour of i}), taps numbered row-major 0..8
    clockwise = {0: 1, 1: 2, 2: 5, 5: 8, 8: 7, 7: 6, 6: 3, 3: 0, 4: 4}
    want_ad = sum(flat[i] * (n3[i] - n3[clockwise[i]]) for i in range(9))
    conv.op = "ad"
    assert torch.allclose(conv(x)[0, 0], want_ad, atol=1e-5)
    # RPDC: sum over the 8 directions d_j (raster order) of w_{j+1} (x(p + 2 d_j) - x(p + d_j))
    n5 = _neighbourhood(x, 2)
    outer = [0, 2, 4, 10, 14, 20, 22, 24]
    inner = [6, 7, 8, 11, 13, 16, 17, 18]
    want_rd = sum(flat[j + 1] * (n5[outer[j]] - n5[inner[j]]) for j in range(8))
    conv.op = "rd"
    assert torch.allclose(conv(x)[0, 0], want_rd, atol=1e-5)


def test_checkpoint_with_module_prefix_loads_strictly_and_matches(published_file):
    path, reference = published_file
    pidinet_annotator._model.cache_clear()
    net = pidinet_annotator._model(str(path))
    x = torch.rand(1, 3, 37, 53)
    with torch.no_grad():
        got, want = net(x), reference(x)
    assert len(got) == 5 and got[-1].shape == (1, 1, 37, 53)
    assert all(torch.equal(a, b) for a, b in zip(got, want))


def test_annotator_thresholds_fused_output_at_half_white_on_black(published_file, monkeypatch):
    path, reference = published_file
    monkeypatch.setenv(weights.ENV_MODELS_DIR, str(path.parent))
    pidinet_annotator._model.cache_clear()
    img = np.random.default_rng(0).integers(0, 256, (67, 45, 3), dtype=np.uint8)
    edges = annotators.run("pidinet", img, resolution=0)
    soft = annotators.run("pidinet", img, resolution=0, soft=True)
    assert edges.shape == (67, 45) and edges.dtype == np.uint8
    assert set(np.unique(edges)) == {0, 255}
    with torch.no_grad():
        prob = reference(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0)[-1][0, 0].numpy()
    assert np.array_equal(edges == 255, prob > 0.5)  # white = edge probability above 0.5, RGB input
    assert len(np.unique(soft)) > 2 and np.abs(soft.astype(float) - prob * 255).max() <= 0.5 + 1e-3
    at_128 = annotators.run("pidinet", img, resolution=128)
    assert at_128.shape == (67, 45) and set(np.unique(at_128)) <= {0, 255}
    pidinet_annotator._model.cache_clear()


def test_a_wrong_checkpoint_names_the_mismatched_keys(tmp_path):
    bad = tmp_path / "bad.pth"
    sd = PiDiNet().state_dict()
    sd["init_block.weight"] = torch.zeros(64, 3, 3, 3)
    del sd["classifier.bias"]
    torch.save(sd, bad)
    with pytest.raises(weights.WeightsError, match=r"missing: classifier.bias.*init_block.weight \(64, 3, 3, 3\)"):
        pidinet_annotator._model.__wrapped__(str(bad))
