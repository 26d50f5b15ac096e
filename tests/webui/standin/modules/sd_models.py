"""Mirrors the parts of modules/sd_models.py@v1.10.1 the generation path calls: ``reload_model_weights`` (no-op:
one checkpoint), ``apply_token_merging`` (no-op), ``checkpoint_aliases``, ``model_hash``
(sha256 of 64 KiB at offset 1 MiB, first 8 hex digits)."""

import hashlib

checkpoint_aliases: dict = {}


def reload_model_weights(sd_model=None, info=None, forced_reload=False):
    from modules import shared

    return shared.sd_model


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
