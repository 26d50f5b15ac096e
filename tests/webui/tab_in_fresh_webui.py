"""Run as a script by ``test_train_tab_loader.py``: a fresh process where, as in the real WebUI, the repository is
on ``sys.path`` only while the stand-in loads the extension's scripts (modules/scripts.py@v1.10.1 ``load_scripts``;
the stand-in's scripts.py mirrors it); then the tab is used as a user would: Train, Interrupt, Resume, and the model
list asked. Prints one JSON line: what each step ended with.

Usage: python tab_in_fresh_webui.py DATA_DIR PAIRS [CHECKPOINT_FILE]
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def main() -> None:
    data_dir, pairs = Path(sys.argv[1]), sys.argv[2]
    # what the stand-in itself needs (its tiny checkpoints are built with the core's UNet code), imported now; the
    # extension's own packages (t2i_webui, t2i_train, annotators, t2i_host) are not
    sys.path.insert(0, str(ROOT))
    import t2i_ext.nets.full  # noqa: F401
    import t2i_ext.tiny_unet  # noqa: F401

    sys.path.remove(str(ROOT))
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT]
    assert not [m for m in sys.modules if m.split(".")[0] in ("t2i_train", "t2i_webui", "annotators", "t2i_host")]

    import harness

    out: dict[str, str] = {}
    with harness.one_torch_thread(), harness.standin_session(data_dir, families=("sd1",)) as ui:
        from modules import script_callbacks, shared

        if len(sys.argv) > 3:  # the tab of an older version trained from the checkpoint's file
            shared.sd_model.sd_checkpoint_info.filename = sys.argv[3]
        out["repo_on_sys_path"] = str(any(Path(p or ".").resolve() == ROOT for p in sys.path))
        cb = next(c for c in script_callbacks.callback_map["callbacks_ui_tabs"]
                  if c.script.endswith("t2i_adapter_train.py"))
        run_training = cb.callback.__globals__["run_training"]
        accepted = inspect.signature(run_training).parameters

        def values(name: str, **changes) -> dict:
            base = dict(name=name, data=pairs, annotator="none", channels="3 (RGB maps)", architecture="full",
                        resolution=64, steps=3, batch_size=1, accumulation=1, learning_rate=1e-4,
                        checkpoint_every=0, sample_every=0, precision="no", checkpointing=False, seed=0,
                        resume=False)
            return {k: v for k, v in {**base, **changes}.items() if k in accepted}

        def last_status(run) -> str:
            try:
                return list(run)[-1][0]
            except Exception as e:  # what the browser shows as a red "Error"; the WebUI log has the exception
                return f"raised {type(e).__name__}: {e}"

        out["train"] = last_status(run_training(**values("fresh-trained")))
        listed = ui.client().get("/t2i-adapter/models").json().get("models", [])
        out["api_lists_it"] = str(any(m["name"] == "fresh-trained" for m in listed))
        try:
            run = run_training(**values("fresh-resumed", steps=40))
            next(run)
            shared.state.interrupt()
            out["interrupt"] = last_status(run)
        except Exception as e:
            out["interrupt"] = f"raised {type(e).__name__}: {e}"
        out["resume"] = last_status(run_training(**values("fresh-resumed", steps=2, resume=True)))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
