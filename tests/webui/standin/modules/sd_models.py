"""Mirrors the parts of modules/sd_models.py@v1.10.1 the generation path calls: ``checkpoint_aliases`` (each stand-in
checkpoint's title and names → its info, as ``list_models`` fills it), ``select_checkpoint`` (the info of
``opts.sd_model_checkpoint``), ``reload_model_weights`` (makes the selected checkpoint the loaded one when it is not,
from the models already in memory: ``reuse_model_from_already_loaded`` over ``model_data.loaded_sd_models``; then
the ``model_loaded`` callbacks), ``apply_token_merging`` (no-op), ``model_hash``
(sha256 of 64 KiB at offset 1 MiB, first 8 hex digits)."""

import hashlib

checkpoint_aliases: dict = {}
loaded_sd_models: list = []  # model_data.loaded_sd_models: every stand-in checkpoint stays in memory


def select_checkpoint():
    from modules import shared

    return checkpoint_aliases.get(shared.opts.sd_model_checkpoint)


def reload_model_weights(sd_model=None, info=None, forced_reload=False):
    from modules import script_callbacks, shared

    info = info or select_checkpoint()
    current = shared.sd_model
    if info is None or (current is not None and current.sd_checkpoint_info.filename == info.filename):
        return current
    model = next((m for m in loaded_sd_models if m.sd_checkpoint_info.filename == info.filename), None)
    if model is None:
        raise FileNotFoundError(f"stand-in: checkpoint {info.title} is not in memory")
    shared.sd_model = model
    script_callbacks.model_loaded_callback(model)
    return model


def apply_token_merging(sd_model, token_merging_ratio):
    pass


def get_closet_checkpoint_match(search_string):
    return None


def model_hash(filename):
    try:
        with open(filename, "rb") as file:
            m = hashlib.sha256()
            file.seek(0x100000)
            m.update(file.read(0x10000))
            return m.hexdigest()[0:8]
    except FileNotFoundError:
        return "NOFILE"
