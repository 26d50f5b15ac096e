"""Row identification in every batch layout the WebUI's CFG denoiser produces (facts §4.4)."""

import torch

from t2i_host.cfg_rows import CfgRowTracker

T, D = 4, 8


def texts(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, T, D, generator=torch.Generator().manual_seed(seed))


def call(tracker, ctx):
    layout = tracker.layout(torch.zeros(ctx.shape[0], 4, 8, 8), ctx)
    return list(layout.images), list(layout.cond)


def test_batched_cond_and_uncond_in_one_call():
    cond, uncond = texts(2, 0), texts(2, 1)
    tr = CfgRowTracker(2)
    tr.start_denoiser_call(cond, uncond, 4)
    assert call(tr, torch.cat([cond, uncond])) == ([0, 1, 0, 1], [True, True, False, False])
    assert tr.fallbacks == 0


def test_batch_cond_uncond_off_gives_chunks_of_batch_rows():
    cond, uncond = texts(2, 0), texts(2, 1)
    tr = CfgRowTracker(2)
    tr.start_denoiser_call(cond, uncond, 4)
    assert call(tr, cond) == ([0, 1], [True, True])
    assert call(tr, uncond) == ([0, 1], [False, False])


def test_different_token_lengths_split_cond_and_uncond_and_padding_still_matches():
    cond = torch.randn(1, 2 * T, D)  # a long prompt
    uncond = texts(1, 1)
    tr = CfgRowTracker(1)
    tr.start_denoiser_call(cond, uncond, 2)
    assert call(tr, cond) == ([0], [True])
    padded = torch.cat([uncond, uncond[:, -1:].expand(1, T, D)], dim=1)  # pad_cond_uncond_v0 style
    assert call(tr, padded) == ([0], [False])
    assert tr.fallbacks == 0


def test_and_prompts_give_several_cond_rows_per_image():
    cond, uncond = texts(3, 0), texts(2, 1)  # image 0: 2 sub-prompts, image 1: 1
    tr = CfgRowTracker(2, repeats=[2, 1])
    tr.start_denoiser_call(cond, uncond, 5)
    assert call(tr, torch.cat([cond, uncond])) == ([0, 0, 1, 0, 1], [True, True, True, False, False])
    tr.start_denoiser_call(cond, uncond, 5)  # batch_cond_uncond off: chunks of 2 straddle cond and uncond
    assert call(tr, torch.cat([cond[:2]])) == ([0, 0], [True, True])
    assert call(tr, torch.cat([cond[2:], uncond[:1]])) == ([1, 0], [True, False])
    assert call(tr, uncond[1:]) == ([1], [False])


def test_skipped_uncond_leaves_only_cond_rows():
    cond, uncond = texts(2, 0), texts(2, 1)
    tr = CfgRowTracker(2)
    tr.start_denoiser_call(cond, uncond, 4)
    assert call(tr, cond) == ([0, 1], [True, True])
    tr.start_denoiser_call(cond, uncond, 4)  # next step starts over
    assert call(tr, torch.cat([cond, uncond])) == ([0, 1, 0, 1], [True, True, False, False])


def test_identical_cond_and_uncond_are_told_apart_by_position():
    same = texts(1, 0)
    tr = CfgRowTracker(1)
    tr.start_denoiser_call(same, same.clone(), 2)
    assert call(tr, torch.cat([same, same])) == ([0, 0], [True, False])


def test_same_prompt_for_every_image_maps_rows_to_images_by_position():
    cond = texts(1, 0).expand(3, T, D)
    uncond = texts(1, 1).expand(3, T, D)
    tr = CfgRowTracker(3)
    tr.start_denoiser_call(cond, uncond, 6)
    assert call(tr, torch.cat([cond, uncond])) == ([0, 1, 2, 0, 1, 2], [True] * 3 + [False] * 3)


def test_unexpected_call_falls_back_to_content():
    cond, uncond = texts(2, 0), texts(2, 1)
    tr = CfgRowTracker(2)
    tr.start_denoiser_call(cond, uncond, 4)
    assert call(tr, torch.cat([uncond[1:], cond[:1]])) == ([1, 0], [False, True])  # an extension's own call
    assert tr.fallbacks == 1


def test_sdxl_dict_conds_and_half_precision_contexts():
    cond, uncond = texts(1, 0), texts(1, 1)
    tr = CfgRowTracker(1)
    tr.start_denoiser_call({"crossattn": cond, "vector": torch.zeros(1, 4)}, {"crossattn": uncond}, 2)
    assert call(tr, torch.cat([cond, uncond]).half()) == ([0, 0], [True, False])
    assert tr.fallbacks == 0


def test_no_denoiser_information_treats_rows_as_conditional():
    tr = CfgRowTracker(2)
    assert call(tr, texts(2, 0)) == ([0, 1], [True, True])
