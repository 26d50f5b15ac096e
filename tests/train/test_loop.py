"""The loop: a stopped and resumed run equals an uninterrupted one; Ctrl-C leaves a resumable checkpoint."""

import json

import pytest
import torch

from t2i_ext.nets import FullAdapter
from t2i_train import TrainConfig, fit
from t2i_train.adapters import make_adapter
from t2i_train.base_model import _schedule
from t2i_train.toy import mask_dataset, toy_unet


def _run(tmp_path, steps, resume=None, **kw):
    torch.manual_seed(0)
    adapter = FullAdapter(1, (32, 32, 32, 32), num_res_blocks=1)
    cfg = TrainConfig(output=str(tmp_path), steps=steps, batch_size=2, grad_accumulation=2, learning_rate=1e-3,
                      checkpoint_every=0, resume=resume, seed=3)
    return fit(toy_unet(random_weights=True), adapter, mask_dataset(6, 1), _schedule(), "epsilon", cfg, "SD1", **kw)


def _params(adapter):
    return torch.cat([p.detach().flatten() for p in adapter.parameters()])


def test_resume_after_a_stop_equals_an_uninterrupted_run(tmp_path):
    full = _run(tmp_path / "a", 4)
    seen = []
    stopped = _run(tmp_path / "b", 4, should_stop=lambda: len(seen) >= 2,
                   progress_callback=lambda p: seen.append(p.step))
    assert stopped.interrupted and stopped.step == 2 and stopped.checkpoint.name == "step-000002"
    state = json.loads((stopped.checkpoint / "state.json").read_text())
    assert state["step"] == 2 and len(state["losses"]) == 2
    resumed = _run(tmp_path / "b", 4, resume=str(stopped.checkpoint))
    assert resumed.step == 4 and not resumed.interrupted
    assert resumed.losses == pytest.approx(full.losses, abs=1e-7)
    assert (_params(resumed.adapter) - _params(full.adapter)).abs().max() <= 1e-7
    assert (_params(stopped.adapter) - _params(full.adapter)).abs().max() > 1e-4  # 2 steps differ from 4


def test_ctrl_c_saves_a_checkpoint_that_resume_latest_finds(tmp_path):
    def interrupt(p):
        if p.step == 1:
            raise KeyboardInterrupt

    result = _run(tmp_path, 3, progress_callback=interrupt)
    assert result.interrupted and result.checkpoint == tmp_path / "checkpoints" / "step-000001"
    assert (result.checkpoint / "optimizer-00001.safetensors").exists()
    assert (result.checkpoint / "adapter.safetensors").exists()
    resumed = _run(tmp_path, 3, resume="latest")
    assert resumed.step == 3 and len(resumed.losses) == 3 and resumed.losses[0] == result.losses[0]


def test_fine_tuning_starts_from_the_given_adapter_file(tmp_path):
    from t2i_ext.convert import save_safetensors
    from t2i_train.tiny import tiny_unet

    unet = tiny_unet("sd1")
    trained = make_adapter("full", 1, unet, "SD1", seed=5)
    save_safetensors(trained, tmp_path / "a.safetensors")
    again = make_adapter("full", 1, unet, "SD1", seed=6, init=str(tmp_path / "a.safetensors"))
    assert torch.equal(_params(again), _params(trained)) and again.training
    assert all(p.requires_grad for p in again.parameters())


def test_bf16_mixed_precision_keeps_a_float32_adapter_and_a_finite_loss(tmp_path):
    torch.manual_seed(0)
    adapter = FullAdapter(1, (32, 32, 32, 32), num_res_blocks=1)
    before = _params(adapter).clone()
    cfg = TrainConfig(output=str(tmp_path), steps=2, batch_size=2, learning_rate=1e-3, checkpoint_every=0,
                      mixed_precision="bf16", gradient_checkpointing=True)
    result = fit(toy_unet(random_weights=True), adapter, mask_dataset(4, 1), _schedule(), "epsilon", cfg, "SD1")
    assert all(p.dtype == torch.float32 for p in result.adapter.parameters())
    assert all(torch.isfinite(torch.tensor(result.losses))) and (_params(result.adapter) - before).abs().max() > 1e-4


def test_batches_hold_one_latent_size_and_cover_every_sample_each_epoch():
    from t2i_train.loop import BatchPlan
    from t2i_train.precompute import Entry, LatentSet

    def entry(h, w):
        z = torch.zeros(4, h, w)
        return Entry(z, z, torch.zeros(1, 8 * h, 8 * w), torch.zeros(77, 8))

    data = LatentSet([entry(8, 8)] * 5 + [entry(6, 10)] * 3)
    plan = BatchPlan(data, global_batch=2, seed=0)
    assert plan.per_epoch == 3 + 2  # buckets padded by cycling to whole batches
    epoch = [plan.global_batch(k) for k in range(plan.per_epoch)]
    assert all(len({data.sizes[i] for i in b}) == 1 and len(b) == 2 for b in epoch)
    assert {i for b in epoch for i in b} == set(range(8))
    assert [plan.global_batch(k) for k in range(plan.per_epoch, 2 * plan.per_epoch)] != epoch  # reshuffled
    assert BatchPlan(data, 2, seed=0).global_batch(7) == plan.global_batch(7)  # deterministic: resumable
