"""TrainingSession's status line around the end of a run: the final word waits until the WebUI's job has ended."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from t2i_train import api
from t2i_train.config import TrainConfig
from t2i_train.loop import TrainResult
from t2i_train.session import TrainingSession


@pytest.mark.parametrize(
    ("result", "error", "final"),
    [
        (TrainResult(adapter=None, step=2, interrupted=True), None, "Interrupted at step 2"),
        (None, RuntimeError("boom"), "Training failed: RuntimeError: boom"),
        (TrainResult(adapter=None, step=3), None, "Done: "),
    ],
)
def test_the_final_status_waits_for_the_webui_job_to_end(tmp_path: Path, monkeypatch, result, error, final):
    """Seen in the real Forge: "Interrupted" showed while the run still held the job, so a Resume clicked at once
    was refused as busy. Until ``end`` has returned the status says "Finishing…"."""

    def fake_train(config: TrainConfig, *args, **kwargs) -> TrainResult:
        if error is not None:
            raise error
        config.output_dir.mkdir(parents=True)
        (config.output_dir / "adapter.safetensors").write_bytes(b"weights")  # what a finished run leaves to publish
        return result

    monkeypatch.setattr(api, "train", fake_train)
    in_end, release = threading.Event(), threading.Event()

    def end() -> None:  # the WebUI ending its job, held here so the test can look in between
        in_end.set()
        assert release.wait(30)

    session = TrainingSession(TrainConfig(output=str(tmp_path / "run")), tmp_path / "models", "mine", end=end)
    session.start()
    try:
        assert in_end.wait(30)
        shown = session.snapshot()
        assert shown["status"] == "Finishing…" and shown["running"]
    finally:
        release.set()
        session.wait(30)
    shown = session.snapshot()
    assert shown["status"].startswith(final) and not shown["running"]
