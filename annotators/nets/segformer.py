"""SegFormer-B5 fine-tuned on ADE20k at 640x640 (Xie et al., NeurIPS 2021), as transformers'
`SegformerForSemanticSegmentation` built from a config written here (never downloaded): the ADE20k-palette
segmentation annotator without mmcv.

Why this model: ControlNet's seg preprocessors (UniFormer-UperNet, OneFormer) need mmcv or detectron2; SegFormer's
published checkpoint (``nvidia/segformer-b5-finetuned-ade-640-640``, ``pytorch_model.bin``, a plain state dict)
loads into transformers 4.30.2's class directly, is among the stronger ADE20k models (51.0 mIoU single-scale in
the paper) and predicts the same 150 classes in the same order as the ADE palette.

Hyperparameters (the repository's ``config.json``, MiT-B5): 4 stages, depths 3/6/40/3, widths 64/128/320/512,
heads 1/2/5/8, spatial-reduction ratios 8/4/2/1, patch sizes 7/3/3/3, strides 4/2/2/2, MLP ratio 4,
LayerNorm eps 1e-6, all-MLP decoder width 768, 150 labels.
Key names (transformers naming, as in the file): ``segformer.encoder.patch_embeddings.{0..3}.proj.*``,
``segformer.encoder.block.{s}.{i}.attention.self.{query,key,value,sr}.*``, ``...mlp.dwconv.dwconv.*``,
``segformer.encoder.layer_norm.{0..3}.*``, ``decode_head.linear_c.{0..3}.proj.*``, ``decode_head.linear_fuse``,
``decode_head.batch_norm.*`` (incl. ``num_batches_tracked``), ``decode_head.classifier.*`` [150, 768, 1, 1].
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from annotators.ade20k_palette import ADE20K_CLASSES


def segformer_b5_ade_config() -> Any:
    """`SegformerConfig` of nvidia/segformer-b5-finetuned-ade-640-640."""
    from transformers import SegformerConfig

    return SegformerConfig(
        num_channels=3,
        num_encoder_blocks=4,
        depths=[3, 6, 40, 3],
        sr_ratios=[8, 4, 2, 1],
        hidden_sizes=[64, 128, 320, 512],
        patch_sizes=[7, 3, 3, 3],
        strides=[4, 2, 2, 2],
        num_attention_heads=[1, 2, 5, 8],
        mlp_ratios=[4, 4, 4, 4],
        hidden_act="gelu",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        classifier_dropout_prob=0.1,
        drop_path_rate=0.1,
        layer_norm_eps=1e-6,
        decoder_hidden_size=768,
        semantic_loss_ignore_index=255,
        num_labels=len(ADE20K_CLASSES),
        id2label=dict(enumerate(ADE20K_CLASSES)),
        label2id={c: i for i, c in enumerate(ADE20K_CLASSES)},
    )


def build_segformer(config: Any = None) -> Any:
    """An (untrained) SegFormer; input ImageNet-normalised RGB [N, 3, H, W], ``.logits`` [N, 150, H/4, W/4].
    (Not buildable on the meta device: transformers calls ``.item()`` while building its drop-path schedule.)"""
    from transformers import SegformerForSemanticSegmentation

    return SegformerForSemanticSegmentation(config or segformer_b5_ade_config()).eval()


def load_segformer(path: Path | str) -> Any:
    """Build SegFormer-B5 and strictly load the published state dict at `path`."""
    from annotators.weights import load_state_dict, load_strict

    model = build_segformer()
    load_strict(model, load_state_dict(path), f"SegFormer-B5 ADE20k from {path}")
    return model.eval()
