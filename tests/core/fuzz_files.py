"""Hypothesis strategies for hostile weights files, shared by the core's and the model store's fuzz tests."""

from __future__ import annotations

import io
import json
import math
import struct

import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from t2i_ext.nets import FullAdapter

# Small and derandomized: the same examples on every machine and in CI, in seconds.
FUZZ = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# names the registry looks for, so random files reach detection and building, and names it never saw
NAMES = st.one_of(
    st.sampled_from(
        [
            "conv_in.weight",
            "body.0.block1.weight",
            "body.4.block1.weight",
            "body.0.in_conv.weight",
            "body.0.out_conv.weight",
            "body.0.body.0.block1.weight",
            "style_embedding",
            "proj",
            "task_embedding",
            "seq_proj",
            "spatial_feat_mapping.0.1.weight",
            "adapter.conv_in.weight",
            "body.0.resnets.0.block1.weight",
            "body.99999999999999999999.resnets.1.x",
            "string_to_param.*",
            "__metadata__",
        ]
    ),
    st.text(max_size=12),
)
DTYPES = st.sampled_from(["F32", "F16", "BF16", "F64", "I64", "I32", "U8", "BOOL", "C64", "F8_E4M3", "", "f32"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
ENTRY = st.one_of(
    st.fixed_dictionaries(
        {
            "dtype": DTYPES,
            "shape": st.lists(st.integers(-2, 1 << 62), max_size=5) | JSON,
            "data_offsets": st.lists(st.integers(-2, 1 << 62), max_size=3) | JSON,
        }
    ),
    JSON,
)


@st.composite
def safetensors_files(draw) -> bytes:
    """Random headers, declared lengths, offsets, dtypes, shapes, data and truncations."""
    header = draw(st.dictionaries(NAMES, ENTRY, max_size=6) | JSON)
    raw = draw(st.sampled_from([json.dumps(header), json.dumps(header)[:-1], "{" * 600 + "}" * 600])).encode()
    length = draw(st.one_of(st.just(len(raw)), st.integers(0, (1 << 64) - 1), st.integers(0, len(raw) + 64)))
    blob = struct.pack("<Q", length) + raw + draw(st.binary(max_size=512))
    cut = draw(st.one_of(st.none(), st.integers(0, len(blob))))
    return blob if cut is None else blob[:cut]


@st.composite
def coherent_safetensors_files(draw) -> bytes:
    """Well-formed files (offsets fit, data present) with adapter names and random shapes and dtypes: they load,
    so the registry's detection, shape reading and building get random shapes."""
    names = draw(st.lists(NAMES, min_size=1, max_size=6, unique=True))
    header, offset = {}, 0
    for name in names:
        dtype = draw(st.sampled_from(["F32", "F16", "I64", "BOOL"]))
        shape = draw(st.lists(st.integers(0, 6), max_size=4))
        size = math.prod(shape) * {"F32": 4, "F16": 2, "I64": 8, "BOOL": 1}[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    header.pop("__metadata__", None)
    raw = json.dumps(header).encode()
    data = draw(st.binary(min_size=offset, max_size=offset)) if offset <= 4096 else bytes(offset)
    return struct.pack("<Q", len(raw)) + raw + data


def tiny_legacy_pth() -> bytes:
    """A tiny adapter in torch's legacy (pure pickle) format: every byte of its head is pickle opcodes."""
    buffer = io.BytesIO()
    torch.save(FullAdapter(1, (4, 8, 8, 8)).state_dict(), buffer, _use_new_zipfile_serialization=False)
    return buffer.getvalue()


@st.composite
def mutated(draw, blob: bytes, span: int = 4096) -> bytes:
    """``blob`` with a few bytes of its first ``span`` changed, or cut short."""
    data = bytearray(blob)
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.integers(0, min(span, len(data)) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))
    return bytes(data if cut is None else data[:cut])
