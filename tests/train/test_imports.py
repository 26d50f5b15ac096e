"""The trainer never imports the WebUI, gradio/fastapi, diffusers, or the annotators (unless their data path runs)."""

import subprocess
import sys


def test_trainer_imports_no_webui_gradio_diffusers_or_annotators():
    code = (
        "import sys, t2i_train, t2i_train.__main__, t2i_train.api, t2i_train.loop, t2i_train.base_model\n"
        "bad = {'gradio', 'fastapi', 'modules', 'scripts', 'diffusers', 'annotators', 't2i_host'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
