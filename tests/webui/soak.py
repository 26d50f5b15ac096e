"""Back-to-back and concurrent API generations on the stand-in (shared by the suite's soak test and the bench).

Requests alternate units, weights, models, annotators and sizes; each must give the image the same request gave when
made alone, leave no hook on the UNet, and not grow memory from job to job: the assertion counts the torch tensors
the garbage collector tracks (the feature cache's entries are allocated during the reference runs, so the count must
stay flat); RSS is reported, not asserted (the allocator keeps freed pages)."""

from __future__ import annotations

import gc
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

from .images import shapes
from .test_api import JOB, b64


def requests(webui) -> list[dict]:
    """Distinct requests: two models, two weights, an annotator, two sizes, one and two units."""
    canny = {"model": webui.adapters["canny"], "image": b64(shapes())}
    sketch = {"model": webui.adapters["sketch_rgb"], "image": b64(shapes(seed=3)), "module": "invert"}
    units = [[canny], [{**canny, "weight": 0.4}], [sketch], [canny, {**sketch, "weight": 0.7}]]
    out = []
    for i, unit_list in enumerate(units):
        size = 64 if i % 2 == 0 else 128
        scripts = {"t2i-adapter": {"args": unit_list}}
        out.append({**JOB, "steps": 3, "width": size, "height": size, "alwayson_scripts": scripts})
    return out


def tensor_count() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, torch.Tensor))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


@dataclass
class SoakResult:
    jobs: int
    mismatches: int
    tensors_before: int
    tensors_after: int
    rss_before_mb: float
    rss_after_mb: float
    seconds: float
    concurrent_mismatches: int


def soak(webui, client, jobs: int, threads: int = 3) -> SoakResult:
    bodies = requests(webui)

    def image(body: dict) -> str:
        r = client.post("/sdapi/v1/txt2img", json=body)
        assert r.status_code == 200, r.text
        return r.json()["images"][0]

    alone = [image(b) for b in bodies]  # references; also fills the feature cache
    tensors, rss, t0 = tensor_count(), rss_mb(), time.perf_counter()
    mismatches = sum(image(bodies[i % len(bodies)]) != alone[i % len(bodies)] for i in range(jobs))
    seconds = time.perf_counter() - t0
    after_tensors, after_rss = tensor_count(), rss_mb()
    with ThreadPoolExecutor(threads) as pool:
        picks = [i % len(bodies) for i in range(threads * 2)]
        got = list(pool.map(lambda i: image(bodies[i]), picks))
    concurrent = sum(g != alone[i] for g, i in zip(got, picks))
    return SoakResult(jobs, mismatches, tensors, after_tensors, rss, after_rss, seconds, concurrent)
