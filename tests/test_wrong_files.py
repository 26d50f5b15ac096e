"""Issue 15, item 9: each wrong kind of file given to each slot that takes a file, and the one line it answers.

Every refusal names what the user gave ("this is a T2I-Adapter, not a base model"; "this file is text") and what to
do, instead of guessing ("download the adapter file again" for a text file; "an HTML error page" for a PNG). The
slots: a base model and an ``--init-adapter`` for the trainer, an adapter for the extension and the core, an
annotator's weights (PiDiNet), and an image file (the one image reader, :func:`t2i_host.images.read_image_file`).
No pickled code ever runs (the code pickle would create a marker file).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

MARKER = "wrong-files-pwned"


class _Payload:
    """Unpickling this runs ``touch`` — it must never happen."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 120, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _adapter() -> dict:
    from t2i_ext.nets import FullAdapter

    return FullAdapter(3, (32, 64, 128, 128)).state_dict()  # the widths of the tiny SD1 UNet


def _checkpoint() -> dict:
    z = torch.zeros
    return {
        "model.diffusion_model.input_blocks.0.0.weight": z(32, 4, 3, 3),
        "model.diffusion_model.out.2.weight": z(4, 32, 3, 3),
        "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": z(8, 32),
        "first_stage_model.encoder.conv_in.weight": z(8, 3, 3, 3),
    }


def _controlnet() -> dict:
    z = torch.zeros
    return {"control_model.input_hint_block.0.weight": z(16, 3, 3, 3), "control_model.zero_convs.0.0.weight": z(8, 8)}


def make(kind: str, stem: Path, ext: str) -> Path:
    """A file of ``kind`` at ``stem`` + ``ext`` (pickle kinds keep a pickle extension every weights slot accepts)."""
    if kind in ("embedding", "code pickle"):
        ext = ".pt" if kind == "embedding" else ".ckpt"
    path = stem.with_suffix(ext)
    if kind == "text":
        path.write_text("This model is great. Use weight 0.8 and the canny annotator.\n")
    elif kind == "PNG":
        path.write_bytes(_png())
    elif kind == "HTML page":
        path.write_text("<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head></html>\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "embedding":  # a textual inversion embedding, as the WebUI saves them
        torch.save({"string_to_param": {"*": torch.zeros(2, 32)}, "name": "emb", "step": 0}, path)
    elif kind == "code pickle":
        torch.save({"state_dict": {"w": torch.zeros(1)}, "x": _Payload(path.parent / MARKER)}, path)
    else:
        tensors = {"adapter": _adapter, "base model": _checkpoint, "ControlNet": _controlnet}[kind]()
        if ext == ".png":
            path = path.with_suffix(".safetensors")
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
    return path


def _base_model(path: Path) -> None:
    from t2i_train.base_model import load_base_model

    load_base_model(path)


def _adapter_slot(path: Path) -> None:
    import t2i_ext

    t2i_ext.load_adapter(path)


def _init_adapter(path: Path) -> None:
    from t2i_ext.tiny_unet import TINY_SD1, build_ldm_unet
    from t2i_train.adapters import make_adapter

    make_adapter("full", 3, build_ldm_unet(TINY_SD1), "SD1", init=str(path))


def _annotator_weights(path: Path) -> None:
    from annotators.pidinet import edge_probability

    edge_probability(np.zeros((16, 16, 3), np.uint8), resolution=16, weights_path=str(path))


def _image(path: Path) -> None:
    from t2i_host.images import read_image_file

    read_image_file(path)


@dataclass(frozen=True)
class Slot:
    load: Callable[[Path], None]
    ext: str
    right: tuple[str, ...]  # kinds that belong in this slot (no refusal expected)


SLOTS = {
    "base model": Slot(_base_model, ".safetensors", ("base model",)),
    "adapter": Slot(_adapter_slot, ".safetensors", ("adapter",)),
    "init adapter": Slot(_init_adapter, ".safetensors", ("adapter",)),
    "annotator weights": Slot(_annotator_weights, ".pth", ()),
    "image": Slot(_image, ".png", ("PNG",)),
}
KINDS = ("text", "PNG", "HTML page", "adapter", "base model", "ControlNet", "embedding", "code pickle", "empty")


def message(slot: str, path: Path) -> str:
    """The one line a slot answers for ``path`` ("" when it accepted the file)."""
    try:
        SLOTS[slot].load(path)
    except ImportError:  # a broken slot is a failure, not a refusal
        raise
    except Exception as e:  # noqa: BLE001 — every refusal's message is what the table checks
        return str(e)
    return ""


#: the words that name each kind in a refusal (the image slot calls every weights file "model weights")
NOUNS = {
    "text": r"\btext\b",
    "PNG": r"\bPNG image\b",
    "HTML page": r"\bHTML\b",
    "adapter": r"\bT2I-Adapter\b",
    "base model": r"Stable Diffusion checkpoint|\bbase model\b",
    "ControlNet": r"\bControlNet\b",
    "embedding": r"\bembedding\b",
    "code pickle": r"run code.*refused|refused.*run code",
    "empty": r"\bempty\b",
}
WEIGHT_KINDS = ("adapter", "base model", "ControlNet", "embedding", "code pickle")
#: what to do: each refusal says it with one of these verbs
ACTIONS = r"\b(choose|use|put|download|send|get|pick|give|train)\b"

def _cells():
    for kind in KINDS:
        for slot, spec in SLOTS.items():
            if kind in spec.right:
                continue
            yield pytest.param(kind, slot, id=f"{kind}->{slot}")


@pytest.mark.parametrize("kind,slot", list(_cells()))
def test_a_wrong_file_is_refused_in_one_line_naming_it_what_it_is_and_what_to_do(tmp_path, kind, slot):
    path = make(kind, tmp_path / "given", SLOTS[slot].ext)
    text = message(slot, path)
    assert text, f"{slot} accepted a {kind}"
    assert "\n" not in text and "Traceback" not in text
    assert path.name in text, f"the file is not named: {text}"
    noun = r"\bmodel weights\b" if slot == "image" and kind in WEIGHT_KINDS else NOUNS[kind]
    assert re.search(noun, text), f"a {kind} is not called one: {text}"
    if kind != "HTML page":
        assert "HTML" not in text, text  # the old guess for every file without a known signature
    if kind in ("text", "PNG", "HTML page"):
        assert "again" not in text, text  # downloading it again would not turn it into weights
    assert re.search(ACTIONS, text, re.IGNORECASE), f"no advice: {text}"
    assert not (tmp_path / MARKER).exists(), "a pickle's code ran"


def test_an_adapter_of_another_width_is_blamed_not_the_image():
    # a UNet's width is the model's, not the image's: the old message told the user to resize the condition image
    import t2i_ext
    from t2i_ext import AdapterUnit, InjectionError
    from t2i_ext.tiny_unet import TINY_SD1, build_ldm_unet

    unet = build_ldm_unet(TINY_SD1)  # widths 32, 64, 128, 128
    features = [torch.zeros(1, c, 16 >> i, 16 >> i) for i, c in enumerate((16, 32, 64, 64))]  # right sizes
    x, t, context = torch.zeros(1, 4, 16, 16), torch.zeros(1), torch.zeros(1, 8, 32)
    with pytest.raises(InjectionError) as info, torch.no_grad(), t2i_ext.inject(unet, [AdapterUnit(features=features)]):
        unet(x, t, context=context)
    assert "16 channels but this UNet's block has 32" in str(info.value) and "another width" in str(info.value)
    assert "size" not in str(info.value)
