"""MiDaS DPT-Hybrid: published key names, strict load of a plain-state-dict .pt, equality with transformers'
DPT-Hybrid after transformers' own checkpoint-conversion mapping (an independent implementation and key map),
and the depth-map convention (min-max, near = bright, 3 equal channels)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

import annotators
import annotators.depth_midas as midas_annotator
from annotators import weights
from annotators.nets import parameter_count
from annotators.nets.dpt_hybrid import DPTHybridDepth
from tests.annotators_models.helpers import random_init

# isl-org/MiDaS dpt_depth.py / vit.py (_make_vit_b_rn50_backbone) + timm vit_base_resnet50_384 names.
PUBLISHED = {
    "pretrained.model.cls_token": (1, 1, 768),
    "pretrained.model.pos_embed": (1, 577, 768),
    "pretrained.model.patch_embed.backbone.stem.conv.weight": (64, 3, 7, 7),
    "pretrained.model.patch_embed.backbone.stages.0.blocks.0.downsample.conv.weight": (256, 64, 1, 1),
    "pretrained.model.patch_embed.backbone.stages.2.blocks.8.conv2.weight": (256, 256, 3, 3),
    "pretrained.model.patch_embed.backbone.stages.2.blocks.8.norm3.bias": (1024,),
    "pretrained.model.patch_embed.proj.weight": (768, 1024, 1, 1),
    "pretrained.model.blocks.11.attn.qkv.weight": (2304, 768),
    "pretrained.model.blocks.0.mlp.fc1.weight": (3072, 768),
    "pretrained.model.head.weight": (1000, 768),
    "pretrained.act_postprocess3.0.project.0.weight": (768, 1536),
    "pretrained.act_postprocess3.3.weight": (768, 768, 1, 1),
    "pretrained.act_postprocess4.4.weight": (768, 768, 3, 3),
    "scratch.layer1_rn.weight": (256, 256, 3, 3),
    "scratch.layer4_rn.weight": (256, 768, 3, 3),
    "scratch.refinenet4.resConfUnit1.conv1.weight": (256, 256, 3, 3),
    "scratch.refinenet1.out_conv.weight": (256, 256, 1, 1),
    "scratch.output_conv.0.weight": (128, 256, 3, 3),
    "scratch.output_conv.4.weight": (1, 32, 1, 1),
}


@pytest.fixture(scope="module")
def published_file(tmp_path_factory):
    net = random_init(_meta_net(), scale=0.05)
    with torch.no_grad():
        net.scratch.output_conv[4].bias.fill_(1.0)  # keep the final ReLU mostly open
    path = tmp_path_factory.mktemp("midas") / midas_annotator.WEIGHTS
    torch.save(net.state_dict(), path)  # the published file is a plain state dict
    return path, net


def _meta_net() -> DPTHybridDepth:
    with torch.device("meta"):
        return DPTHybridDepth()


def test_network_has_the_published_key_names_shapes_and_size():
    net = _meta_net()
    sd = net.state_dict()
    for key, shape in PUBLISHED.items():
        assert tuple(sd[key].shape) == shape, key
    assert not any(k.startswith(("pretrained.act_postprocess1", "pretrained.act_postprocess2")) for k in sd)
    assert len(sd) == 368
    assert parameter_count(net) == 123_146_985  # x4 bytes ~ the published 492,757,791-byte file


def _transformers_reference(state: dict[str, torch.Tensor], monkeypatch) -> torch.nn.Module:
    """transformers' DPT-Hybrid, loaded strictly from `state` renamed by transformers' own conversion script
    for this checkpoint (convert_dpt_hybrid_to_pytorch.py: rename_key, read_in_q_k_v, remove_ignore_keys_)."""
    import huggingface_hub
    from transformers import DPTConfig, DPTForDepthEstimation

    monkeypatch.setattr(huggingface_hub, "cached_download", None, raising=False)  # imported, never called
    convert = importlib.import_module("transformers.models.dpt.convert_dpt_hybrid_to_pytorch")
    config = DPTConfig(
        is_hybrid=True,
        hidden_size=768,
        patch_size=16,
        image_size=384,
        reassemble_factors=[1, 1, 1, 0.5],
        neck_hidden_sizes=[256, 512, 768, 768],
        readout_type="project",
        use_batch_norm_in_fusion_residual=False,
        layer_norm_eps=1e-6,  # timm's ViT LayerNorm eps (the conversion script leaves transformers' 1e-12)
    )
    renamed = dict(state)
    convert.remove_ignore_keys_(renamed)
    renamed = {convert.rename_key(k): v for k, v in renamed.items()}
    convert.read_in_q_k_v(renamed, config)
    with torch.device("meta"):
        model = DPTForDepthEstimation(config)
    model.load_state_dict(renamed, strict=True, assign=True)
    return model.eval()


def test_loaded_file_equals_transformers_dpt_hybrid(published_file, monkeypatch):
    path, _ = published_file
    midas_annotator._model.cache_clear()
    ours = midas_annotator._model(str(path)).double()
    reference = _transformers_reference(ours.state_dict(), monkeypatch).double()
    h = w = 128  # transformers reassembles token grids as squares
    reference.dpt.embeddings.image_size = (h, w)  # its size check only; position embeddings are resized alike
    x = torch.randn(1, 3, h, w, dtype=torch.float64)
    with torch.no_grad():
        got = ours(x)
        want = reference(pixel_values=x).predicted_depth
    midas_annotator._model.cache_clear()
    assert got.shape == want.shape == (1, h, w)
    assert (got - want).abs().max() <= 1e-9 * want.abs().max()


def test_sizes_not_divisible_by_32_are_refused():
    with pytest.raises(ValueError, match="divisible by 32"):
        _meta_net()(torch.zeros(1, 3, 40, 64, device="meta"))


def test_depth_map_is_min_max_normalised_near_bright_three_channels(published_file, monkeypatch):
    path, net = published_file
    monkeypatch.setenv(weights.ENV_MODELS_DIR, str(path.parent))
    midas_annotator._model.cache_clear()
    img = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    out = annotators.run("depth_midas", img, resolution=0)
    midas_annotator._model.cache_clear()
    assert out.shape == (64, 96, 3) and out.dtype == np.uint8
    assert np.array_equal(out[:, :, 0], out[:, :, 1]) and np.array_equal(out[:, :, 0], out[:, :, 2])
    assert out.min() == 0 and out.max() == 255
    with torch.no_grad():
        depth = net(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 127.5 - 1.0)[0].numpy()
    # Larger inverse depth (nearer) -> brighter: the network's nearest pixel is white, its farthest black.
    assert out[np.unravel_index(depth.argmax(), depth.shape)][0] == 255
    assert out[np.unravel_index(depth.argmin(), depth.shape)][0] == 0
