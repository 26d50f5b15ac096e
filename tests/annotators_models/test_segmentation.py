"""ADE20k segmentation (SegFormer-B5, no mmcv): published key names and size, strict load of a plain .bin state
dict, and the palette-map convention (every pixel one of the 150 ADE20k colours, the argmax class's colour)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import annotators
import annotators.segmentation as seg_annotator
from annotators import weights
from annotators.ade20k_palette import ADE20K_CLASSES, ADE20K_PALETTE, colourise
from annotators.nets import parameter_count
from annotators.nets.segformer import build_segformer, load_segformer

# transformers SegformerForSemanticSegmentation naming (as in nvidia/segformer-b5-finetuned-ade-640-640),
# MiT-B5 shapes.
PUBLISHED = {
    "segformer.encoder.patch_embeddings.0.proj.weight": (64, 3, 7, 7),
    "segformer.encoder.patch_embeddings.3.proj.weight": (512, 320, 3, 3),
    "segformer.encoder.block.2.39.attention.self.sr.weight": (320, 320, 2, 2),
    "segformer.encoder.block.0.0.mlp.dwconv.dwconv.weight": (256, 1, 3, 3),
    "segformer.encoder.layer_norm.3.weight": (512,),
    "decode_head.linear_c.0.proj.weight": (768, 64),
    "decode_head.linear_fuse.weight": (768, 3072, 1, 1),
    "decode_head.batch_norm.num_batches_tracked": (),
    "decode_head.classifier.weight": (150, 768, 1, 1),
}


@pytest.fixture(scope="module")
def published_file(tmp_path_factory):
    torch.manual_seed(0)
    model = build_segformer()
    path = tmp_path_factory.mktemp("seg") / seg_annotator.WEIGHTS
    torch.save(model.state_dict(), path)  # pytorch_model.bin: a plain state dict
    return path, model


def test_model_has_the_published_key_names_shapes_and_size(published_file):
    _, model = published_file
    sd = model.state_dict()
    for key, shape in PUBLISHED.items():
        assert tuple(sd[key].shape) == shape, key
    assert (
        len([k for k in sd if k.startswith("segformer.encoder.block.2.") and k.endswith("attention.self.query.weight")])
        == 40
    )
    assert parameter_count(model) == 84_708_694  # "SegFormer-B5 84.7M" (paper table 1); 339 MB file


def test_palette_is_the_150_colour_ade20k_table():
    assert len(ADE20K_PALETTE) == len(ADE20K_CLASSES) == 150
    assert ADE20K_PALETTE[:3] == ((120, 120, 120), (180, 120, 120), (6, 230, 230))  # wall, building, sky
    assert ADE20K_CLASSES[:3] == ("wall", "building", "sky")
    assert colourise(np.array([[0, 2]])).tolist() == [[[120, 120, 120], [6, 230, 230]]]
    with pytest.raises(ValueError, match=r"\[0, 150\)"):
        colourise(np.array([[150]]))


def test_bin_state_dict_loads_strictly_and_matches(published_file):
    path, reference = published_file
    model = load_segformer(path)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert torch.equal(model(pixel_values=x).logits, reference(pixel_values=x).logits)


def test_annotator_paints_the_argmax_class_colour_at_input_size(published_file, monkeypatch):
    path, reference = published_file
    monkeypatch.setenv(weights.ENV_MODELS_DIR, str(path.parent))
    seg_annotator._model.cache_clear()
    img = np.random.default_rng(0).integers(0, 256, (48, 80, 3), dtype=np.uint8)
    out = annotators.run("segmentation_ade20k", img, resolution=0)
    labels = seg_annotator.class_map(img, resolution=0)
    seg_annotator._model.cache_clear()
    assert out.shape == (48, 80, 3) and out.dtype == np.uint8
    assert {tuple(c) for c in out.reshape(-1, 3)} <= set(ADE20K_PALETTE)
    assert np.array_equal(out, colourise(labels))
    x = (img.astype(np.float32) / 255.0 - seg_annotator.IMAGENET_MEAN) / seg_annotator.IMAGENET_STD
    with torch.no_grad():
        logits = reference(pixel_values=torch.from_numpy(x.transpose(2, 0, 1).copy())[None]).logits
    logits = torch.nn.functional.interpolate(logits, size=(48, 80), mode="bilinear", align_corners=False)
    assert np.array_equal(labels, logits[0].argmax(0).numpy())
