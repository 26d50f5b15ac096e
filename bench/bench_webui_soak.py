"""Soak in a running WebUI (not a test): back-to-back API generations that alternate units, weights, models and sizes,
then concurrent ones; every image must equal the same request made alone, and the server must not grow.

    python -m bench.bench_webui_soak --url http://127.0.0.1:7860 --pid PID [--jobs 50] [--threads 3]

Start the WebUI with ``--api``, an SD1.x checkpoint and at least one SD1 adapter (two to alternate models). The
distinct requests (plain; each adapter at weight 1; the first at 0.5 and with the canny annotator; two sizes) are
each sent once alone first; the soak then cycles through them ``--jobs`` times and compares each image to its
reference, then ``--threads`` clients send two requests each at once (the WebUI queues them). With ``--pid`` it
reports the server's RSS before and after (``/proc/PID/status``: resident memory, which the allocator keeps rather
than returns, so it is a bound on growth, not a leak detector by itself). A plain job after everything must equal the
first plain job: nothing was left behind.
"""

from __future__ import annotations

import argparse
import threading
import time

from bench.bench_webui_api import _png_b64, _request
from bench.job_timing import condition_image

NEEDS_WEBUI = True


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kb / 1024


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860")
    parser.add_argument("--pid", type=int, help="the WebUI's process id (same machine), for its RSS")
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--threads", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args(argv)
    url = args.url.rstrip("/")
    models = [m["title"] for m in _request(f"{url}/t2i-adapter/models")["models"] if m["base"] == "SD1"]
    models = [m for m in models if "style" not in m and "fuser" not in m][:2]
    if not models:
        raise SystemExit("no SD1 adapter listed by /t2i-adapter/models")

    def job(size: tuple[int, int], unit: dict | None) -> dict:
        payload = dict(prompt="a house by a lake", negative_prompt="blurry", seed=1234, steps=args.steps, cfg_scale=7,
                       width=size[0], height=size[1], sampler_name="Euler", save_images=False)  # fmt: skip
        if unit is not None:
            payload["alwayson_scripts"] = {"t2i-adapter": {"args": [unit]}}
        return payload

    cond = {s: _png_b64(condition_image(max(s), 7)) for s in ((64, 64), (96, 64))}
    variants = {"plain 64²": job((64, 64), None), "plain 96×64": job((96, 64), None)}
    for i, model in enumerate(models):
        for size in cond:
            variants[f"{model} w1 {size[0]}×{size[1]}"] = job(size, {"model": model, "image": cond[size]})
        if i == 0:
            variants[f"{model} w0.5"] = job((64, 64), {"model": model, "image": cond[(64, 64)], "weight": 0.5})
            variants[f"{model} canny"] = job((64, 64), {"model": model, "image": cond[(64, 64)], "module": "canny"})

    def image(payload: dict) -> str:
        return _request(f"{url}/sdapi/v1/txt2img", payload)["images"][0]

    print(f"{len(variants)} distinct requests, {args.jobs} soak jobs, {args.threads} threads × 2 concurrent")
    reference = {name: image(p) for name, p in variants.items()}  # each request alone
    assert reference["plain 64²"] != reference[f"{models[0]} w1 64×64"], "the unit did not change the image"
    rss0 = _rss_mb(args.pid) if args.pid else None
    names, equal, t0 = list(variants), 0, time.perf_counter()
    for k in range(args.jobs):
        name = names[k % len(names)]
        equal += image(variants[name]) == reference[name]
    per_job = (time.perf_counter() - t0) / args.jobs
    rss1 = _rss_mb(args.pid) if args.pid else None

    results: list[bool] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        for j in range(2):
            name = names[(offset + j) % len(names)]
            same = image(variants[name]) == reference[name]
            with lock:
                results.append(same)

    threads = [threading.Thread(target=client, args=(3 * t,)) for t in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    clean = image(variants["plain 64²"]) == reference["plain 64²"]
    print("| jobs | images equal alone | s/job | concurrent equal | RSS MB before → after (per job) | plain after |")
    print("|---|---|---|---|---|---|")
    rss = f"{rss0:.0f} → {rss1:.0f} ({(rss1 - rss0) / args.jobs:+.2f})" if args.pid else "—"
    print(f"| {args.jobs} | {equal}/{args.jobs} | {per_job:.1f} | {sum(results)}/{len(results)} | {rss} | "
          f"{'identical' if clean else 'DIFFERENT'} |")  # fmt: skip


if __name__ == "__main__":
    main()
