"""Control is measurable: after training, samples with the adapter put the shape where the mask says."""

import numpy as np
import torch

from t2i_ext.nets import FullAdapter
from t2i_train import TrainConfig, fit
from t2i_train.base_model import _schedule
from t2i_train.toy import control_score, mask_dataset, pretrain_unet, toy_unet


def test_adapter_trained_on_masks_makes_samples_follow_the_mask_and_its_loss_falls(tmp_path):
    acp = _schedule()
    unet = toy_unet()
    unet_losses = pretrain_unet(unet, acp, steps=100, batch=32)  # a tiny UNet that draws one shape anywhere
    assert np.mean(unet_losses[-10:]) < 0.5 * np.mean(unet_losses[:10])
    torch.manual_seed(0)
    adapter = FullAdapter(1, (32, 32, 32, 32), num_res_blocks=1)
    cfg = TrainConfig(output=str(tmp_path), steps=80, batch_size=16, learning_rate=3e-3, checkpoint_every=0)
    result = fit(unet, adapter, mask_dataset(64, seed=1), acp, "v", cfg, "SD1")
    first, last = np.mean(result.losses[:15]), np.mean(result.losses[-15:])
    score = control_score(unet, result.adapter, acp, n=16)  # held-out masks, the same seeds with and without
    print(f"toy: adapter loss {first:.4f} -> {last:.4f}; "
          f"IoU without {score.iou_without:.3f}, with {score.iou_with:.3f}")
    assert last < 0.85 * first
    assert score.iou_with > 0.6 and score.iou_with > score.iou_without + 0.35
