"""Networks: published parameter counts and key layouts, feature shapes, and parity with diffusers."""

import pytest
import torch

from t2i_ext.nets import CoAdapterFuser, FullAdapter, FullAdapterXL, LightAdapter, StyleAdapter

from .reference import diffusers_adapter, to_original_keys


@pytest.mark.parametrize(
    "make, params, tensors",
    [
        (lambda: FullAdapter(1), 77_000_640, 38),
        (lambda: FullAdapter(3), 77_369_280, 38),
        (lambda: LightAdapter(3), 18_689_200, 80),
        (lambda: StyleAdapter(), 38_587_392, 42),
        (lambda: CoAdapterFuser(), 27_285_184, 59),
        (lambda: FullAdapterXL(1), 77_553_600, 38),
        (lambda: FullAdapterXL(3), 79_028_160, 38),
    ],
)
def test_published_configurations_have_published_parameter_counts(make, params, tensors):
    model = make()
    assert model.num_parameters == params
    assert len(model.state_dict()) == tensors


def test_full_adapter_key_names_and_shapes_match_the_original_checkpoints():
    sd = {k: tuple(v.shape) for k, v in FullAdapter(1).state_dict().items()}
    assert sd["conv_in.weight"] == (320, 64, 3, 3)
    assert sd["body.0.block1.weight"] == (320, 320, 3, 3)
    assert sd["body.0.block2.weight"] == (320, 320, 1, 1)
    assert sd["body.2.in_conv.weight"] == (640, 320, 1, 1)
    assert sd["body.4.in_conv.weight"] == (1280, 640, 1, 1)
    assert "body.6.in_conv.weight" not in sd and sd["body.7.block2.bias"] == (1280,)
    assert {k for k in sd if "in_conv" in k} == {f"body.{i}.in_conv.{p}" for i in (2, 4) for p in ("weight", "bias")}
    xl = {k: tuple(v.shape) for k, v in FullAdapterXL(3).state_dict().items()}
    assert set(xl) == set(sd) and xl["conv_in.weight"] == (320, 768, 3, 3)


def test_light_style_and_fuser_key_names_match_the_original_checkpoints():
    light = {k: tuple(v.shape) for k, v in LightAdapter(3).state_dict().items()}
    assert light["body.0.in_conv.weight"] == (80, 192, 1, 1)
    assert light["body.3.body.3.block2.weight"] == (320, 320, 3, 3)
    assert light["body.3.out_conv.weight"] == (1280, 320, 1, 1)
    style = {k: tuple(v.shape) for k, v in StyleAdapter().state_dict().items()}
    assert style["style_embedding"] == (1, 8, 1024) and style["proj"] == (1024, 768)
    assert style["transformer_layes.2.attn.in_proj_weight"] == (3072, 1024)
    assert style["transformer_layes.0.mlp.c_fc.weight"] == (4096, 1024)
    fuser = {k: tuple(v.shape) for k, v in CoAdapterFuser().state_dict().items()}
    assert fuser["task_embedding"] == (16, 768) and fuser["positional_embedding"] == (4, 768)
    assert fuser["spatial_feat_mapping.2.1.weight"] == (768, 1280)
    assert fuser["spatial_ch_projs.0.weight"] == (320, 768) and fuser["seq_proj"] == (768, 768)


@pytest.mark.parametrize(
    "model, size, expected",
    [
        (FullAdapter(3, (8, 16, 32, 32)), (520, 776), [(65, 97), (33, 49), (17, 25), (9, 13)]),
        (LightAdapter(3, (8, 16, 32, 32), 1), (264, 264), [(33, 33), (17, 17), (9, 9), (5, 5)]),
        (FullAdapterXL(3, (8, 16, 32, 32)), (528, 784), [(33, 49), (33, 49), (17, 25), (17, 25)]),
    ],
)
def test_feature_sizes_follow_the_unets_ceil_rounding_at_odd_sizes(model, size, expected):
    feats = model(torch.rand(1, 3, *size))
    assert [tuple(f.shape[-2:]) for f in feats] == expected
    assert [f.shape[1] for f in feats] == [8, 16, 32, 32]


@pytest.mark.parametrize("name", ["full_1ch", "full_3ch", "light", "xl_1ch", "xl_3ch"])
def test_spatial_adapters_match_diffusers_at_published_size(name):
    ref = diffusers_adapter(name)
    cls = {"full": FullAdapter, "ligh": LightAdapter, "xl_1": FullAdapterXL, "xl_3": FullAdapterXL}[name[:4]]
    ours = cls(ref.config.in_channels)
    ours.load_state_dict(to_original_keys(ref.state_dict(), name == "light", ref.config.num_res_blocks), strict=True)
    x = torch.rand(2, ref.config.in_channels, 272, 208)  # 272 = 16·17: odd sizes at the deeper levels
    with torch.no_grad():
        expected, got = ref(x), ours(x)
    assert [f.shape for f in got] == [f.shape for f in expected]
    assert max((a - b).abs().max().item() for a, b in zip(got, expected)) <= 1e-5


def test_style_adapter_returns_num_token_tokens_of_context_width():
    style = StyleAdapter(width=64, context_dim=32, num_head=4, layers=2, num_token=8).eval()
    out = style(torch.randn(3, 257, 64))
    assert out.shape == (3, 8, 32)
    # the learned tokens attend to the image tokens: different images give different style tokens
    assert not torch.allclose(out[0], out[1])


def test_untrained_fuser_is_a_plain_sum_of_the_adapter_outputs():
    fuser = CoAdapterFuser((8, 16, 32, 32), width=32, num_head=4, layers=1).eval()
    a = [torch.rand(1, c, s, s) for c, s in zip((8, 16, 32, 32), (8, 4, 2, 1))]
    b = [torch.rand_like(f) for f in a]
    tokens = torch.rand(1, 8, 32)
    maps, seq = fuser([("sketch", a), ("style", tokens), ("depth", b)])
    assert all(torch.allclose(m, x + y) for m, x, y in zip(maps, a, b))
    assert torch.allclose(seq, tokens)


def test_trained_fuser_rescales_each_condition_differently():
    fuser = CoAdapterFuser((8, 16, 32, 32), width=32, num_head=4, layers=1).eval()
    with torch.no_grad():
        for proj in fuser.spatial_ch_projs:
            proj.weight.normal_()
    a = [torch.rand(1, c, s, s) for c, s in zip((8, 16, 32, 32), (8, 4, 2, 1))]
    maps, _ = fuser([("sketch", a), ("depth", a)])
    assert not all(torch.allclose(m, 2 * x) for m, x in zip(maps, a))  # task embeddings differ per condition
    with pytest.raises(ValueError, match="unknown condition 'lineart'"):
        fuser([("lineart", a)])
