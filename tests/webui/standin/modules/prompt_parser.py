"""Mirrors modules/prompt_parser.py@v1.10.1 where the sampling path depends on it: AND-composition
(``get_multicond_prompt_list``), conditioning schedules and the batch reconstruction the CFG denoiser calls
(``reconstruct_cond_batch``, ``reconstruct_multicond_batch`` with ``stack_conds`` padding shorter sub-prompts by
repeating their last vector). Prompt editing ``[a:b:step]`` is not modelled: each prompt has one schedule."""

from __future__ import annotations

import re
from collections import namedtuple

import torch

re_AND = re.compile(r"\bAND\b")
re_weight = re.compile(r"^((?:\s|.)*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$")

ScheduledPromptConditioning = namedtuple("ScheduledPromptConditioning", ["end_at_step", "cond"])


class SdConditioning(list):
    """prompt_parser.py: a list of prompts that remembers the image size and whether it is the negative prompt."""

    def __init__(self, prompts, is_negative_prompt=False, width=None, height=None, copy_from=None):
        super().__init__()
        self.extend(prompts)
        if copy_from is None:
            copy_from = prompts
        self.is_negative_prompt = is_negative_prompt or getattr(copy_from, "is_negative_prompt", False)
        self.width = width or getattr(copy_from, "width", None)
        self.height = height or getattr(copy_from, "height", None)


class DictWithShape(dict):
    """SDXL conds are dicts (``crossattn``, ``vector``) that answer ``.shape`` like the crossattn tensor."""

    def __init__(self, x, shape=None):
        super().__init__()
        self.update(x)

    @property
    def shape(self):
        return self["crossattn"].shape


def get_learned_conditioning(
    model, prompts: SdConditioning | list[str], steps, hires_steps=None, use_old_scheduling=False
):
    """One schedule entry per prompt (ending at the last step); identical prompts share one encoding."""
    res = []
    cache = {}
    texts = SdConditioning(list(dict.fromkeys(prompts)), copy_from=prompts)
    conds = model.get_learned_conditioning(texts) if texts else None
    for prompt in prompts:
        if prompt not in cache:
            i = texts.index(prompt)
            cond = {k: v[i] for k, v in conds.items()} if isinstance(conds, dict) else conds[i]
            cache[prompt] = [ScheduledPromptConditioning(steps, cond)]
        res.append(cache[prompt])
    return res


def get_multicond_prompt_list(prompts: SdConditioning | list[str]):
    res_indexes = []
    prompt_indexes = {}
    prompt_flat_list = SdConditioning(prompts)
    prompt_flat_list.clear()
    for prompt in prompts:
        subprompts = re_AND.split(prompt)
        indexes = []
        for subprompt in subprompts:
            match = re_weight.search(subprompt)
            text, weight = match.groups() if match is not None else (subprompt, 1.0)
            weight = float(weight) if weight is not None else 1.0
            index = prompt_indexes.get(text, None)
            if index is None:
                index = len(prompt_flat_list)
                prompt_flat_list.append(text)
                prompt_indexes[text] = index
            indexes.append((index, weight))
        res_indexes.append(indexes)
    return res_indexes, prompt_flat_list, prompt_indexes


class ComposableScheduledPromptConditioning:
    def __init__(self, schedules, weight=1.0):
        self.schedules: list[ScheduledPromptConditioning] = schedules
        self.weight: float = weight


class MulticondLearnedConditioning:
    def __init__(self, shape, batch):
        self.shape: tuple = shape
        self.batch: list[list[ComposableScheduledPromptConditioning]] = batch


def get_multicond_learned_conditioning(model, prompts, steps, hires_steps=None, use_old_scheduling=False):
    res_indexes, prompt_flat_list, prompt_indexes = get_multicond_prompt_list(prompts)
    learned = get_learned_conditioning(model, prompt_flat_list, steps, hires_steps, use_old_scheduling)
    res = [
        [ComposableScheduledPromptConditioning(learned[i], weight) for i, weight in indexes] for indexes in res_indexes
    ]
    return MulticondLearnedConditioning(shape=(len(prompts),), batch=res)


def _pick(schedules, current_step):
    for index, entry in enumerate(schedules):
        if current_step <= entry.end_at_step:
            return index
    return 0


def reconstruct_cond_batch(c: list[list[ScheduledPromptConditioning]], current_step):
    param = c[0][0].cond
    if isinstance(param, dict):
        res = DictWithShape(
            {k: torch.zeros((len(c),) + v.shape, device=v.device, dtype=v.dtype) for k, v in param.items()}
        )
        for i, schedules in enumerate(c):
            for k, v in schedules[_pick(schedules, current_step)].cond.items():
                res[k][i] = v
        return res
    res = torch.zeros((len(c),) + param.shape, device=param.device, dtype=param.dtype)
    for i, schedules in enumerate(c):
        res[i] = schedules[_pick(schedules, current_step)].cond
    return res


def stack_conds(tensors):
    token_count = max(x.shape[0] for x in tensors)
    out = []
    for t in tensors:
        if t.shape[0] != token_count:
            t = torch.vstack([t, t[-1:].repeat([token_count - t.shape[0]] + [1] * (t.ndim - 1))])
        out.append(t)
    return torch.stack(out)


def reconstruct_multicond_batch(c: MulticondLearnedConditioning, current_step):
    param = c.batch[0][0].schedules[0].cond
    tensors = []
    conds_list = []
    for composable_prompts in c.batch:
        conds_for_batch = []
        for composable_prompt in composable_prompts:
            target = _pick(composable_prompt.schedules, current_step)
            conds_for_batch.append((len(tensors), composable_prompt.weight))
            tensors.append(composable_prompt.schedules[target].cond)
        conds_list.append(conds_for_batch)
    if isinstance(tensors[0], dict):
        stacked = DictWithShape({k: stack_conds([x[k] for x in tensors]) for k in tensors[0].keys()})
    else:
        stacked = stack_conds(tensors).to(device=param.device, dtype=param.dtype)
    return conds_list, stacked
