"""Mirrors modules/lowvram.py@v1.10.1 for a run without --lowvram/--medvram: nothing is offloaded."""


def is_enabled(sd_model):
    return getattr(sd_model, "lowvram", False)


def send_everything_to_cpu():
    pass
