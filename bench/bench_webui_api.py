"""What one T2I-Adapter unit costs a job in a running WebUI, measured through its HTTP API (not a test).

    python -m bench.bench_webui_api --url http://127.0.0.1:7860 [--pid PID] [--model NAME] [--rounds N]

Start the WebUI with ``--api`` and this extension installed, with an SD1.x checkpoint loaded and an SD1.x adapter in
``models/T2I-Adapter``. The script sends txt2img jobs (standard library only) of three kinds, interleaved round by
round in a rotating order so drift and other load hit them alike:

- plain: no unit;
- first: one enabled unit (annotator "none") with a condition image never sent before, so the job runs the
  adapter's single pass;
- repeat: one unit with the same image, adapter and size every time: its features come from the cache;
- peer first (with ``--peer-model``): the same adapter file as one unit of sd-webui-controlnet
  (``alwayson_scripts["controlnet"]``, preprocessor "none"), with the same fresh condition image as this round's
  first job: a side-by-side first job, same file, same condition, neither cache has seen it.

It reports, per kind, the median wall time of the request and the median over rounds of its ratio to the plain job
of the same round; with ``--pid`` (the WebUI's process id, same machine) the same for the server process's CPU time
(``/proc/PID/stat``: all its threads; other processes do not inflate it, but with several torch threads it also
counts their spin-waits).
With a peer it also reports, round by round, our first job's time / the peer's first job's, its median with a
distribution-free 95 % interval, and in how many rounds ours was not slower. ``--log FILE`` appends every job as it
finishes (tab-separated: round, kind, end time, wall ms, server CPU ms, of which system, and the server's minor page
faults), so a long run's figures survive a stop.

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

from bench.job_timing import condition_image, median_interval, paired_ratio, round_ratios

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


def _process_counters(pid: int) -> tuple[float, float, int]:
    """The process's (user CPU s, system CPU s, minor page faults) so far, all its threads (``/proc/PID/stat``)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick, int(fields[7])


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
    parser.add_argument("--log", help="append each job (round, kind, wall ms, CPU ms) to this file as it finishes")
    parser.add_argument(
        "--kinds", help='comma-separated kinds to run (default: all), e.g. "first,peer first" for pairs alone'
    )
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

    fresh = {"image": ""}  # this round's never-sent condition image, the same for our first job and the peer's

    payloads = {
        "plain": lambda: job,
        "first": lambda: {**job, **unit(fresh["image"])},
        "repeat": lambda: {**job, **unit(fixed)},
    }
    if args.peer_model:
        payloads["peer first"] = lambda: {**job, **peer(fresh["image"])}
    if args.kinds:
        chosen = [k.strip() for k in args.kinds.split(",") if k.strip()]
        unknown = [k for k in chosen if k not in payloads]
        if unknown or not chosen:
            raise SystemExit(f"--kinds: {unknown or 'none given'}; choose from {', '.join(payloads)}")
        payloads = {k: payloads[k] for k in chosen}
    wall: dict[str, list[float]] = {k: [] for k in payloads}
    cpu: dict[str, list[float]] = {k: [] for k in payloads}
    images: dict[str, list[str]] = {k: [] for k in payloads}

    log = open(args.log, "a", buffering=1) if args.log else None  # noqa: SIM115 (open for the whole run)

    def run(kind: str, round_: int) -> None:
        payload = payloads[kind]()
        before, t0 = (_process_counters(args.pid) if args.pid else (0.0, 0.0, 0)), time.perf_counter()
        result = _request(f"{url}/sdapi/v1/txt2img", payload)
        t1, after = time.perf_counter(), (_process_counters(args.pid) if args.pid else (0.0, 0.0, 0))
        user, system, faults = (a - b for a, b in zip(after, before))
        if log is not None:
            log.write(
                f"{round_}\t{kind}\t{time.strftime('%H:%M:%S', time.gmtime())}\t{(t1 - t0) * 1000:.0f}\t"
                f"{(user + system) * 1000:.0f}\t{system * 1000:.0f}\t{faults}\n"
            )
        if round_ >= 0:
            wall[kind].append((t1 - t0) * 1000)
            cpu[kind].append((user + system) * 1000)
            images[kind].append(result["images"][0])

    print(f"extension {version.get('version')} · adapter {model} · {args.size}² · {args.steps} steps · {args.sampler}")
    if log is not None:
        log.write(f"# {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {json.dumps(vars(args))}\n")
        log.write("round\tkind\tend_utc\twall_ms\tcpu_ms\tsystem_cpu_ms\tminor_faults\n")
    kinds = list(payloads)
    for r in range(-1, args.rounds):  # round -1: warm-up (model and adapter load, allocator), not recorded
        fresh["image"] = _png_b64(condition_image(args.size, next(counter)))
        shift = r % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            run(kind, r)

    checks = []
    if "repeat" in images:
        assert len(set(images["repeat"])) == 1, "repeat jobs returned different images"
        checks.append("repeat jobs identical: yes")
        if "plain" in images:
            assert images["repeat"][0] != images["plain"][0], "the unit did not change the image"
            checks.append("the unit changes the image: yes")
    measures = [("wall ms", wall)] + ([("server CPU ms", cpu)] if args.pid else [])
    with_plain = "plain" in kinds
    header = ["kind"]
    for name, _ in measures:
        header += [f"{name} (median)"] + (["× plain (median of per-round ratios)"] if with_plain else [])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for kind in kinds:
        cells = [kind]
        for _, times in measures:
            cells += [f"{statistics.median(times[kind]):.0f}"] + (
                [f"{paired_ratio(times, kind):.4f}×"] if with_plain else []
            )
        print("| " + " | ".join(cells) + " |", flush=True)
    print("; ".join([f"{args.rounds} rounds", *checks]))
    if "first" in kinds and "peer first" in kinds:
        for name, times in measures:
            ratios = round_ratios(times, "first", "peer first")
            low, high = median_interval(ratios)
            not_slower = sum(r <= 1 for r in ratios)
            print(
                f"first / peer first, {name.removesuffix(' ms')}: median {statistics.median(ratios):.4f}× "
                f"(95 % interval {low:.4f}–{high:.4f}), ours not slower in {not_slower} of {len(ratios)} rounds; "
                "per round: " + " ".join(f"{r:.3f}" for r in ratios)
            )


if __name__ == "__main__":
    main()
