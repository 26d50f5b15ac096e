"""CLIP ViT-L/14 vision tower: published key names, strict load of the vision half of a full CLIP file,
CLIPProcessor-equal preprocessing, and the annotator's [1, 257, 1024] token output."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import annotators
import annotators.clip_vision as clip_annotator
from annotators import weights
from annotators.nets import parameter_count
from annotators.nets.clip_vision import build_clip_vision, load_clip_vision
from tests.annotators_models.helpers import random_init

# Published names/shapes (openai/clip-vit-large-patch14 config.json vision_config; transformers CLIPVisionModel
# naming, incl. the "pre_layrnorm" spelling).
PUBLISHED = {
    "vision_model.embeddings.class_embedding": (1024,),
    "vision_model.embeddings.patch_embedding.weight": (1024, 3, 14, 14),
    "vision_model.embeddings.position_embedding.weight": (257, 1024),
    "vision_model.pre_layrnorm.weight": (1024,),
    "vision_model.encoder.layers.0.self_attn.q_proj.weight": (1024, 1024),
    "vision_model.encoder.layers.23.mlp.fc1.weight": (4096, 1024),
    "vision_model.encoder.layers.23.mlp.fc2.weight": (1024, 4096),
    "vision_model.encoder.layers.23.layer_norm2.bias": (1024,),
    "vision_model.post_layernorm.weight": (1024,),
}


@pytest.fixture(scope="module")
def published_file(tmp_path_factory):
    """A full-CLIP-shaped safetensors file: the vision tower's tensors plus text-side keys the loader must skip,
    without position_ids (newer exports omit that constant buffer)."""
    from safetensors.torch import save_file

    model = random_init(build_clip_vision(device="meta"))
    state = {k: v.contiguous() for k, v in model.state_dict().items() if not k.endswith("position_ids")}
    state["text_model.embeddings.token_embedding.weight"] = torch.zeros(8, 4)
    state["visual_projection.weight"] = torch.zeros(768, 1024)
    state["logit_scale"] = torch.tensor(2.0)
    folder = tmp_path_factory.mktemp("clip")
    path = folder / clip_annotator.WEIGHTS
    save_file(state, str(path))
    return path, model


def test_a_file_with_position_ids_loads_under_any_transformers(published_file, tmp_path):
    """The published file holds vision_model.embeddings.position_ids; transformers >= 4.31 (Forge's 4.46) has no
    such key in the model's state dict, and a strict load refused the real file there (seen in a real Forge)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    path, reference = published_file
    with safe_open(str(path), "pt") as f:
        state = {k: f.get_tensor(k) for k in f.keys()}
    state["vision_model.embeddings.position_ids"] = torch.arange(257)[None]
    save_file(state, str(tmp_path / "with_ids.safetensors"))
    model = load_clip_vision(tmp_path / "with_ids.safetensors")
    pixels = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(model(pixels).last_hidden_state, reference.eval()(pixels).last_hidden_state)


def test_tower_has_the_published_key_names_shapes_and_size(published_file):
    _, model = published_file
    sd = model.state_dict()
    for key, shape in PUBLISHED.items():
        assert tuple(sd[key].shape) == shape, key
    assert len([k for k in sd if k.startswith("vision_model.encoder.layers.") and k.endswith("q_proj.weight")]) == 24
    assert parameter_count(model) == 303_179_776


def test_vision_half_of_a_full_clip_file_loads_strictly_and_matches(published_file):
    path, reference = published_file
    model = load_clip_vision(path)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        got = model(pixel_values=x).last_hidden_state
        want = reference(pixel_values=x).last_hidden_state
    assert got.shape == (1, 257, 1024)
    assert torch.equal(got, want)


def test_preprocessing_equals_clip_image_processor():
    from transformers import CLIPImageProcessor

    processor = CLIPImageProcessor(
        size={"shortest_edge": 224},
        crop_size={"height": 224, "width": 224},
        image_mean=clip_annotator.CLIP_MEAN.tolist(),
        image_std=clip_annotator.CLIP_STD.tolist(),
    )
    rng = np.random.default_rng(1)
    for shape in ((300, 451, 3), (517, 260, 3), (224, 224, 3)):
        img = rng.integers(0, 256, shape, dtype=np.uint8)
        want = processor(images=img, return_tensors="np")["pixel_values"][0]
        got = clip_annotator.preprocess(img)
        assert got.shape == (3, 224, 224)
        assert np.abs(got - want).max() < 1e-5, shape


def test_annotator_returns_257_tokens_of_width_1024(published_file, monkeypatch):
    path, reference = published_file
    monkeypatch.setenv(weights.ENV_MODELS_DIR, str(path.parent))
    clip_annotator._model.cache_clear()
    img = np.random.default_rng(2).integers(0, 256, (180, 250, 3), dtype=np.uint8)
    try:
        tokens = annotators.run("clip_vision", img)
        squashed = annotators.run("clip_vision", img, crop=False)
    finally:
        clip_annotator._model.cache_clear()
    assert isinstance(tokens, torch.Tensor) and tokens.dtype == torch.float32
    assert tokens.shape == (1, 257, 1024) and torch.isfinite(tokens).all()
    with torch.no_grad():
        want = reference(pixel_values=torch.from_numpy(clip_annotator.preprocess(img))[None]).last_hidden_state
    assert torch.allclose(tokens, want, atol=1e-5)
    assert not torch.allclose(tokens, squashed)  # crop=False really changes the input


def test_a_non_clip_file_is_rejected_with_the_missing_keys(tmp_path):
    from safetensors.torch import save_file

    bad = tmp_path / "not_clip.safetensors"
    save_file({"vision_model.something.weight": torch.zeros(2)}, str(bad))
    with pytest.raises(weights.WeightsError, match="missing: vision_model.embeddings"):
        load_clip_vision(bad)
