"""A small, faithful stand-in of Stable Diffusion WebUI Forge (lllyasviel/stable-diffusion-webui-forge at dfdcbab6),
laid over the AUTOMATIC1111 stand-in (tests/webui/standin): Forge keeps A1111's ``modules`` (scripts, callbacks,
processing, API) and replaces how the UNet is reached and how CFG batches are built. Each piece cites the Forge file
it mirrors:

- ``UnetPatcher`` — backend/patcher/unet.py: ``clone()`` shares the model and deep-copies ``model_options``;
  ``add_block_modifier`` → ``model_options["transformer_options"]["block_modifiers"]``; ``add_conditioning_modifier``
  → ``model_options["conditioning_modifiers"]``; ``add_patched_controlnet`` links a control object.
- ``forge_unet_forward`` — backend/nn/unet.py ``IntegratedUNet2DConditionModel.forward``: block modifiers "before"
  and "after" every block, ``apply_control`` (``h += control[name].pop()``) after each input/middle block and on each
  skip before the output block, "after" of an input block before ``hs.append(h)``. Run over the tiny LDM UNet's own
  modules (the stand-in's checkpoints), so it computes what the A1111 stand-in's UNet computes.
- ``KModel.apply_model`` — backend/modules/k_model.py: sigma → scaled input and timestep, UNet, → denoised (the
  eps parametrisation of the A1111 stand-in's ``CompVisDenoiser``).
- ``Condition``/``ConditionCrossAttn``/``compile_conditions``/``compile_weighted_conditions`` —
  backend/sampling/condition.py; ``calc_cond_uncond_batch``/``sampling_function_inner``/``sampling_function`` —
  backend/sampling/sampling_function.py: one entry per AND sub-prompt and one for the negative prompt, each the whole
  batch of images; entries of one shape are concatenated into one UNet call (``cond_or_uncond`` in
  ``transformer_options``), as many per call as memory allows (``MAX_ENTRIES_PER_CALL`` stands in for the free-memory
  test); conditioning modifiers run before, control objects are asked per call (``get_control``).
- ``forge_cfg_denoiser_forward`` — modules/sd_samplers_cfg_denoiser.py ``CFGDenoiser.forward``: the A1111 callback
  (``cfg_denoiser_callback`` with sampling_step/sampling_steps), then ``sampling_function``; the mask blend after.
  Not modelled: Forge's re-noising of the masked latent before the call (it changes pixels, not what reaches us).
- ``restore_forge_objects`` — modules/processing.py: ``p.sd_model.forge_objects =
  p.sd_model.forge_objects_after_applying_lora.shallow_copy()`` right before every
  ``process_before_every_sampling`` (first pass, hires pass, img2img).
- ``FakeInitialModel``/``forge_model_reload`` — modules/sd_models.py: ``shared.sd_model`` is a placeholder until the
  first job loads the chosen checkpoint (``forge_model_reload``, the first thing processing does).
- the ``modules_forge`` package beside this file: what our script looks for to know it runs on Forge.
"""

from __future__ import annotations

import collections
import copy
import math
from types import SimpleNamespace
from typing import Any

import torch

MAX_ENTRIES_PER_CALL = None  # None: every compatible entry in one call (plenty of memory); 1: one entry per call


# -- backend/patcher/unet.py ---------------------------------------------------------------------------------------
class UnetPatcher:
    def __init__(self, model: KModel):
        self.model = model
        self.model_options: dict = {"transformer_options": {}}
        self.controlnet_linked_list = None

    def clone(self) -> UnetPatcher:
        n = UnetPatcher(self.model)
        n.model_options = copy.deepcopy(self.model_options)
        n.controlnet_linked_list = self.controlnet_linked_list
        return n

    def append_model_option(self, k, v, ensure_uniqueness=False):
        if k not in self.model_options:
            self.model_options[k] = []
        if ensure_uniqueness and v in self.model_options[k]:
            return
        self.model_options[k].append(v)

    def append_transformer_option(self, k, v, ensure_uniqueness=False):
        to = self.model_options.setdefault("transformer_options", {})
        if k not in to:
            to[k] = []
        if ensure_uniqueness and v in to[k]:
            return
        to[k].append(v)

    def add_block_modifier(self, modifier, ensure_uniqueness=False):
        self.append_transformer_option("block_modifiers", modifier, ensure_uniqueness)

    def add_conditioning_modifier(self, modifier, ensure_uniqueness=False):
        self.append_model_option("conditioning_modifiers", modifier, ensure_uniqueness)

    def add_patched_controlnet(self, cnet):
        cnet.previous_controlnet = self.controlnet_linked_list
        self.controlnet_linked_list = cnet

    def patch_count(self) -> int:
        """Test helper: how many patches this patcher carries (0 on the shared one after any job)."""
        to = self.model_options.get("transformer_options", {})
        n = sum(len(v) for k, v in to.items() if isinstance(v, list))
        n += len(self.model_options.get("conditioning_modifiers", []))
        return n + (self.controlnet_linked_list is not None)


class ForgeObjects:  # backend/diffusion_engine/base.py
    def __init__(self, unet: UnetPatcher):
        self.unet = unet

    def shallow_copy(self) -> ForgeObjects:
        return ForgeObjects(self.unet)


# -- backend/nn/unet.py --------------------------------------------------------------------------------------------
def apply_control(h, control, name):
    if control is not None and name in control and len(control[name]) > 0:
        ctrl = control[name].pop()
        if ctrl is not None:
            h += ctrl
    return h


def forge_unet_forward(unet, x, timesteps, context, y=None, control=None, transformer_options=None):
    from ldm.modules.diffusionmodules.util import timestep_embedding

    transformer_options = {} if transformer_options is None else transformer_options
    block_modifiers = transformer_options.get("block_modifiers", [])
    hs = []
    emb = unet.time_embed(timestep_embedding(timesteps, unet.model_channels, repeat_only=False).to(x.dtype))
    if unet.num_classes is not None:
        emb = emb + unet.label_emb(y)
    h = x
    for i, module in enumerate(unet.input_blocks):
        transformer_options["block"] = ("input", i)
        for m in block_modifiers:
            h = m(h, "before", transformer_options)
        h = module(h, emb, context)
        h = apply_control(h, control, "input")
        for m in block_modifiers:
            h = m(h, "after", transformer_options)
        hs.append(h)
    transformer_options["block"] = ("middle", 0)
    for m in block_modifiers:
        h = m(h, "before", transformer_options)
    h = unet.middle_block(h, emb, context)
    h = apply_control(h, control, "middle")
    for m in block_modifiers:
        h = m(h, "after", transformer_options)
    for i, module in enumerate(unet.output_blocks):
        transformer_options["block"] = ("output", i)
        hsp = apply_control(hs.pop(), control, "output")
        h = torch.cat([h, hsp], dim=1)
        for m in block_modifiers:
            h = m(h, "before", transformer_options)
        h = module(h, emb, context)
        for m in block_modifiers:
            h = m(h, "after", transformer_options)
    transformer_options["block"] = ("last", 0)
    for m in block_modifiers:
        h = m(h, "before", transformer_options)
    h = unet.out(h)
    for m in block_modifiers:
        h = m(h, "after", transformer_options)
    return h.type(x.dtype)


# -- backend/modules/k_model.py ------------------------------------------------------------------------------------
class KModel:
    def __init__(self, diffusion_model, predictor):
        self.diffusion_model = diffusion_model
        self.predictor = predictor  # sigma <-> t of the checkpoint's schedule

    def apply_model(self, x, t, c_crossattn=None, y=None, control=None, transformer_options=None, **kwargs):
        sigma = t
        c_in = 1 / (sigma[:, None, None, None] ** 2 + 1) ** 0.5
        timesteps = self.predictor.sigma_to_t(sigma)
        eps = forge_unet_forward(
            self.diffusion_model, x * c_in, timesteps, c_crossattn, y, control, transformer_options
        ).float()
        return x - eps * sigma[:, None, None, None]


# -- backend/sampling/condition.py ---------------------------------------------------------------------------------
def repeat_to_batch_size(tensor, batch_size):
    if tensor.shape[0] > batch_size:
        return tensor[:batch_size]
    if tensor.shape[0] < batch_size:
        return tensor.repeat([math.ceil(batch_size / tensor.shape[0])] + [1] * (len(tensor.shape) - 1))[:batch_size]
    return tensor


class Condition:
    def __init__(self, cond):
        self.cond = cond

    def _copy_with(self, cond):
        return self.__class__(cond)

    def process_cond(self, batch_size, device, **kwargs):
        return self._copy_with(repeat_to_batch_size(self.cond, batch_size).to(device))

    def can_concat(self, other):
        return self.cond.shape == other.cond.shape

    def concat(self, others):
        return torch.cat([self.cond] + [x.cond for x in others])


class ConditionCrossAttn(Condition):
    def can_concat(self, other):
        s1, s2 = self.cond.shape, other.cond.shape
        if s1 != s2:
            if s1[0] != s2[0] or s1[2] != s2[2]:
                return False
            if math.lcm(s1[1], s2[1]) // min(s1[1], s2[1]) > 4:
                return False
        return True

    def concat(self, others):
        conds = [self.cond] + [x.cond for x in others]
        length = 1
        for c in conds:
            length = math.lcm(length, c.shape[1])
        return torch.cat([c.repeat(1, length // c.shape[1], 1) if c.shape[1] < length else c for c in conds])


def compile_conditions(cond):
    if isinstance(cond, torch.Tensor):
        return [dict(cross_attn=cond, model_conds=dict(c_crossattn=ConditionCrossAttn(cond)))]
    return [
        dict(
            cross_attn=cond["crossattn"],
            pooled_output=cond["vector"],
            model_conds=dict(c_crossattn=ConditionCrossAttn(cond["crossattn"]), y=Condition(cond["vector"])),
        )
    ]


def compile_weighted_conditions(cond, weights):
    results = []
    for cond_pre in map(list, zip(*weights)):
        indices = [i for i, _ in cond_pre]
        feed = {k: v[indices] for k, v in cond.items()} if isinstance(cond, dict) else cond[indices]
        h = compile_conditions(feed)
        h[0]["strength"] = cond_pre[-1][1]
        results += h
    return results


# -- backend/sampling/sampling_function.py -------------------------------------------------------------------------
CondObj = collections.namedtuple("cond_obj", ["input_x", "mult", "conditioning", "control"])


def get_area_and_mult(conds, x_in):
    conditioning = {
        k: c.process_cond(batch_size=x_in.shape[0], device=x_in.device) for k, c in conds["model_conds"].items()
    }
    return CondObj(x_in, torch.ones_like(x_in), conditioning, conds.get("control", None))


def can_concat_cond(c1, c2):
    if c1.input_x.shape != c2.input_x.shape or c1.control is not c2.control:
        return False
    return all(c1.conditioning[k].can_concat(c2.conditioning[k]) for k in c1.conditioning)


def cond_cat(c_list):
    temp = collections.defaultdict(list)
    for x in c_list:
        for k, v in x.items():
            temp[k].append(v)
    return {k: v[0].concat(v[1:]) for k, v in temp.items()}


def calc_cond_uncond_batch(model, cond, uncond, x_in, timestep, model_options):
    COND, UNCOND = 0, 1
    out_cond, out_count = torch.zeros_like(x_in), torch.ones_like(x_in) * 1e-37
    out_uncond, out_uncond_count = torch.zeros_like(x_in), torch.ones_like(x_in) * 1e-37
    to_run = [(get_area_and_mult(x, x_in), COND) for x in cond]
    to_run += [(get_area_and_mult(x, x_in), UNCOND) for x in (uncond or [])]
    while to_run:
        first = to_run[0]
        to_batch = [i for i in range(len(to_run)) if can_concat_cond(to_run[i][0], first[0])]
        to_batch.reverse()
        if MAX_ENTRIES_PER_CALL is not None:
            to_batch = to_batch[: len(to_batch) // max(1, math.ceil(len(to_batch) / MAX_ENTRIES_PER_CALL))]
        input_x, mult, c, cond_or_uncond, control = [], [], [], [], None
        for i in to_batch:
            p, kind = to_run.pop(i)
            input_x.append(p.input_x)
            mult.append(p.mult)
            c.append(p.conditioning)
            cond_or_uncond.append(kind)
            control = p.control
        chunks = len(cond_or_uncond)
        input_x = torch.cat(input_x)
        c = cond_cat(c)
        timestep_ = torch.cat([timestep] * chunks)
        transformer_options = dict(model_options.get("transformer_options", {}))
        transformer_options["cond_or_uncond"] = cond_or_uncond[:]
        transformer_options["sigmas"] = timestep
        c["transformer_options"] = transformer_options
        if control is not None:
            c["control"] = control.get_control(input_x, timestep_, dict(c), chunks)
        output = model.apply_model(input_x, timestep_, **c).chunk(chunks)
        for o in range(chunks):
            if cond_or_uncond[o] == COND:
                out_cond += output[o] * mult[o]
                out_count += mult[o]
            else:
                out_uncond += output[o] * mult[o]
                out_uncond_count += mult[o]
    return out_cond / out_count, out_uncond / out_uncond_count


def sampling_function_inner(model, x, timestep, uncond, cond, cond_scale, model_options):
    edit_strength = sum(item.get("strength", 1) for item in cond)
    uncond_ = None if math.isclose(cond_scale, 1.0) else uncond
    cond_pred, uncond_pred = calc_cond_uncond_batch(model, cond, uncond_, x, timestep, model_options)
    if not math.isclose(edit_strength, 1.0):
        return uncond_pred + (cond_pred - uncond_pred) * cond_scale * edit_strength, cond_pred, uncond_pred
    return uncond_pred + (cond_pred - uncond_pred) * cond_scale, cond_pred, uncond_pred


def sampling_function(denoiser, denoiser_params, cond_scale, cond_composition):
    unet_patcher = denoiser.inner_model.inner_model.forge_objects.unet
    model, control, model_options = unet_patcher.model, unet_patcher.controlnet_linked_list, unet_patcher.model_options
    x, timestep = denoiser_params.x, denoiser_params.sigma
    uncond = compile_conditions(denoiser_params.text_uncond)
    cond = compile_weighted_conditions(denoiser_params.text_cond, cond_composition)
    if control is not None:
        for h in cond + (uncond or []):
            h["control"] = control
    seed = denoiser.p.seeds[0]
    for modifier in model_options.get("conditioning_modifiers", []):
        model, x, timestep, uncond, cond, cond_scale, model_options, seed = modifier(
            model, x, timestep, uncond, cond, cond_scale, model_options, seed
        )
    return sampling_function_inner(model, x, timestep, uncond, cond, cond_scale, model_options)


# -- modules/sd_samplers_cfg_denoiser.py ---------------------------------------------------------------------------
def forge_cfg_denoiser_forward(self, x, sigma, uncond, cond, cond_scale, s_min_uncond, image_cond):
    from modules import prompt_parser, sd_samplers_common, shared
    from modules.script_callbacks import CFGDenoiserParams, cfg_denoiser_callback
    from modules.shared import state

    if state.interrupted or state.skipped:
        raise sd_samplers_common.InterruptedException
    cond_composition, cond = prompt_parser.reconstruct_multicond_batch(cond, self.step)
    uncond = prompt_parser.reconstruct_cond_batch(uncond, self.step) if uncond is not None else None
    params = CFGDenoiserParams(x, image_cond, sigma, state.sampling_step, state.sampling_steps, cond, uncond, self)
    cfg_denoiser_callback(params)
    if shared.opts.skip_early_cond > 0 and self.step / self.total_steps <= shared.opts.skip_early_cond:
        cond_scale = 1.0
    elif (self.step % 2 or shared.opts.s_min_uncond_all) and s_min_uncond > 0 and sigma[0] < s_min_uncond:
        cond_scale = 1.0
    denoised, _, _ = sampling_function(self, params, cond_scale, cond_composition)
    if self.mask is not None:
        denoised = denoised * self.nmask + self.init_latent * self.mask
    self.sampler.last_latent = denoised
    self.step += 1
    return denoised


# -- modules/sd_models.py ------------------------------------------------------------------------------------------
class FakeInitialModel:
    """What ``shared.sd_model`` is until a job loads the checkpoint (``chosen``: the one the stand-in then loads)."""

    def __init__(self, chosen: Any):
        self.cond_stage_model = None
        self.chunk_length = 75
        self.chosen = chosen


def forge_model_reload() -> tuple[Any, bool]:
    """Load the chosen checkpoint unless it is loaded; (the model, whether it was loaded now)."""
    from modules import shared

    if isinstance(shared.sd_model, FakeInitialModel):
        shared.sd_model = shared.sd_model.chosen
        return shared.sd_model, True
    return shared.sd_model, False


# -- modules/processing.py -----------------------------------------------------------------------------------------
def restore_forge_objects(p: Any) -> None:
    p.sd_model.forge_objects = p.sd_model.forge_objects_after_applying_lora.shallow_copy()


class ControlStandin:
    """A ControlNet-like control object on the patcher's linked list (backend/patcher/controlnet.py's contract:
    ``get_control(x, t, cond, batch_chunks)`` → ``{"input": [...], "middle": [...], "output": [...]}``, popped from
    the end). Adds a constant to the middle block's output, so its effect is visible and independent of ours."""

    def __init__(self, delta: float):
        self.delta = delta
        self.previous_controlnet = None
        self.calls = 0

    def get_control(self, x, t, cond, batch_chunks):
        self.calls += 1
        return {"middle": [torch.full((1,), self.delta)]}


def make_forge_model(sd_model: Any) -> Any:
    """Give a stand-in checkpoint Forge's objects: ``forge_objects(.unet)`` over the same UNet, and the flags
    Forge's diffusion engines set (``is_sd1`` True on SD1.5)."""
    from modules.sd_samplers_kdiffusion import CompVisDenoiser

    unet = sd_model.model.diffusion_model
    predictor = CompVisDenoiser(sd_model)
    # backend/modules/k_prediction.py Prediction: the schedule and the kind of prediction (the stand-in's are eps)
    predictor.prediction_type = "epsilon"
    predictor.alphas_cumprod = sd_model.alphas_cumprod
    patcher = UnetPatcher(KModel(unet, predictor))
    sd_model.forge_objects_original = ForgeObjects(patcher)
    sd_model.forge_objects_after_applying_lora = ForgeObjects(patcher)
    sd_model.forge_objects = ForgeObjects(patcher)
    return SimpleNamespace(shared_patcher=patcher)
