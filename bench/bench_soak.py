"""Soak: 50 back-to-back API generations on the stand-in WebUI, then concurrent ones (not a test; the suite runs
10 in ``tests/webui/test_soak.py``).

    ./dev.sh bench soak [--jobs N] [--threads N]

Requests alternate units, weights, models, an annotator and sizes (``tests/webui/soak.py``). Prints whether every
image equals the same request made alone, the torch tensors tracked by the garbage collector and the RSS before
and after the jobs (growth per job), and the concurrent requests' result.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="bench_soak")
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--threads", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # as the suite's stand-in: the tiny UNets gain nothing from more

    from tests.webui.harness import standin_session, unet_hook_count
    from tests.webui.soak import soak

    with tempfile.TemporaryDirectory() as tmp, standin_session(Path(tmp), families=("sd1",)) as ui:
        r = soak(ui, ui.client(), args.jobs, args.threads)
        per_job_tensors = (r.tensors_after - r.tensors_before) / r.jobs
        per_job_mb = (r.rss_after_mb - r.rss_before_mb) / r.jobs
        print(
            "| jobs | images equal alone | s/job | tensors before → after (per job) | RSS MB before → after (per job) |"
        )
        print("|---|---|---|---|---|")
        print(
            f"| {r.jobs} | {r.jobs - r.mismatches}/{r.jobs} | {r.seconds / r.jobs:.2f} | "
            f"{r.tensors_before} → {r.tensors_after} ({per_job_tensors:+.2f}) | "
            f"{r.rss_before_mb:.0f} → {r.rss_after_mb:.0f} ({per_job_mb:+.2f}) |"
        )
        print(
            f"\n{args.threads} threads × 2 requests: {args.threads * 2 - r.concurrent_mismatches}/{args.threads * 2} "
            f"images equal alone; hooks left on the UNet: {unet_hook_count(ui.unet)}"
        )


if __name__ == "__main__":
    main()
