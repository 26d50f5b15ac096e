"""Mirrors modules/sd_samplers.py@v1.10.1: ``create_sampler`` by name (the stand-in has Euler only) and
``find_sampler_config``."""

from modules import sd_samplers_kdiffusion

all_samplers = list(sd_samplers_kdiffusion.samplers_data_k_diffusion)
all_samplers_map = {x.name: x for x in all_samplers}


def find_sampler_config(name):
    if name is not None:
        return all_samplers_map.get(name, None)
    return all_samplers[0]


def create_sampler(name, model):
    config = find_sampler_config(name)
    assert config is not None, f"bad sampler name: {name}"
    sampler = sd_samplers_kdiffusion.KDiffusionSampler(config.funcname, model)
    sampler.config = config
    return sampler


def get_sampler_and_scheduler(sampler_name, scheduler_name, *, convert_automatic=True):
    return sampler_name or "Euler", scheduler_name or "Automatic"
