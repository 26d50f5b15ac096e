"""What one T2I-Adapter unit costs a job in a running WebUI, measured through its HTTP API (not a test).

    python -m bench.bench_webui_api --url http://127.0.0.1:7860 [--pid PID] [--model NAME] [--rounds N]

Start the WebUI with ``--api`` and this extension installed, with an SD1.x checkpoint loaded and an SD1.x adapter in
``models/T2I-Adapter``. The script sends txt2img jobs (standard library only) of three kinds, interleaved round by
round in a rotating order so drift and other load hit them alike:

- plain: no unit;
- first: one enabled unit (annotator "none") with a condition image never sent before, so the job runs the
  adapter's single pass;
- repeat: one unit with the same image, adapter and size every time: its features come from the cache;
- peer first (with ``--peer-model``): the same adapter file and a never-seen condition image as one unit of
  sd-webui-controlnet (``alwayson_scripts["controlnet"]``, preprocessor "none"), for a side-by-side first job.

It reports, per kind, the median wall time of the request and the median over rounds of its ratio to the plain job
of the same round; with ``--pid`` (the WebUI's process id, same machine) the same for the server process's CPU time
(``/proc/PID/stat``: all its threads; other processes do not inflate it, but with several torch threads it also
counts their spin-waits).
It also checks that repeat jobs return identical images and that the unit changes the image.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import statistics
import time
import urllib.error
import urllib.request

import numpy as np
from PIL import Image

from bench.job_timing import condition_image, paired_ratio

NEEDS_WEBUI = True  # ./dev.sh bench runs it only when named


def _request(url: str, payload: dict | None = None, timeout: float = 900) -> dict:
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{url}: HTTP {e.code}: {e.read()[:500].decode(errors='replace')}") from None
    except urllib.error.URLError as e:
        raise SystemExit(f"{url}: {e.reason}; is the WebUI running with --api?") from None


def _png_b64(arr: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860")
    parser.add_argument("--pid", type=int, help="the WebUI's process id, to measure its CPU time (same machine)")
    parser.add_argument("--model", help="adapter name (default: the first SD1 adapter the extension lists)")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--sampler", default="Euler")
    parser.add_argument("--peer-model", help="sd-webui-controlnet's name of the same adapter file (its model_list)")
    args = parser.parse_args(argv)

    url = args.url.rstrip("/")
    version = _request(f"{url}/t2i-adapter/version")
    models = _request(f"{url}/t2i-adapter/models")["models"]
    model = args.model or next((m["title"] for m in models if m.get("base") == "SD1"), None)
    if model is None:
        raise SystemExit("no SD1 adapter listed by /t2i-adapter/models: put one in <webui>/models/T2I-Adapter")

    job = dict(
        prompt="a house by a lake",
        negative_prompt="blurry",
        seed=1234,
        steps=args.steps,
        cfg_scale=7,
        width=args.size,
        height=args.size,
        sampler_name=args.sampler,
        save_images=False,
        send_images=True,
    )
    fixed = _png_b64(condition_image(args.size))
    counter = iter(range(int.from_bytes(os.urandom(6), "little") + 1, 1 << 62))  # fresh per run

    def unit(image: str) -> dict:
        return {"alwayson_scripts": {"t2i-adapter": {"args": [{"model": model, "module": "none", "image": image}]}}}

    def peer(image: str) -> dict:
        cn = {"enabled": True, "module": "none", "model": args.peer_model, "image": image, "weight": 1.0,
              "resize_mode": "Crop and Resize", "control_mode": "Balanced", "pixel_perfect": False,
              "save_detected_map": False}  # fmt: skip
        return {"alwayson_scripts": {"controlnet": {"args": [cn]}}}

    payloads = {
        "plain": lambda: job,
        "first": lambda: {**job, **unit(_png_b64(condition_image(args.size, next(counter))))},
        "repeat": lambda: {**job, **unit(fixed)},
    }
    if args.peer_model:
        payloads["peer first"] = lambda: {**job, **peer(_png_b64(condition_image(args.size, next(counter))))}
    wall: dict[str, list[float]] = {k: [] for k in payloads}
    cpu: dict[str, list[float]] = {k: [] for k in payloads}
    images: dict[str, list[str]] = {k: [] for k in payloads}

    def run(kind: str, record: bool) -> None:
        payload = payloads[kind]()
        c0, t0 = (_cpu_seconds(args.pid) if args.pid else 0.0), time.perf_counter()
        result = _request(f"{url}/sdapi/v1/txt2img", payload)
        t1, c1 = time.perf_counter(), (_cpu_seconds(args.pid) if args.pid else 0.0)
        if record:
            wall[kind].append((t1 - t0) * 1000)
            cpu[kind].append((c1 - c0) * 1000)
            images[kind].append(result["images"][0])

    print(f"extension {version.get('version')} · adapter {model} · {args.size}² · {args.steps} steps · {args.sampler}")
    for kind in payloads:  # warm-up: model and adapter load, allocator
        run(kind, record=False)
    kinds = list(payloads)
    for r in range(args.rounds):
        shift = r % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            run(kind, record=True)

    assert len(set(images["repeat"])) == 1, "repeat jobs returned different images"
    assert images["repeat"][0] != images["plain"][0], "the unit did not change the image"
    print(
        "| kind | wall ms (median) | × plain (median of per-round ratios) |"
        + (" server CPU ms (median) | × plain (median of per-round ratios) |" if args.pid else "")
    )
    print("|---|---|---|" + ("---|---|" if args.pid else ""))
    for kind in kinds:
        line = f"| {kind} | {statistics.median(wall[kind]):.0f} | {paired_ratio(wall, kind):.4f}× |"
        if args.pid:
            line += f" {statistics.median(cpu[kind]):.0f} | {paired_ratio(cpu, kind):.4f}× |"
        print(line, flush=True)
    print(f"{args.rounds} rounds; repeat jobs identical: yes; the unit changes the image: yes")


if __name__ == "__main__":
    main()
