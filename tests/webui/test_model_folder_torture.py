"""Issue 9: the panel's model list (``model_choices``) over a models folder full of broken and hostile entries
(tests/host/hostile_models.py) still offers the good adapters of the loaded family, and nothing else new."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest

from tests.host import hostile_models


def test_the_panels_model_list_survives_the_torture_folder(webui, tmp_path, monkeypatch):
    from t2i_webui import models as glue

    module = SimpleNamespace(model_choices=glue.choices, resolve_model=glue.resolve)
    models = webui.data_dir / "models"
    own, shared = models / "T2I-Adapter" / "torture", models / "ControlNet"
    created_shared = not shared.exists()
    before = module.model_choices(refresh=True)
    try:
        hostile_models.build(tmp_path, own=own, shared=shared)
        hostile_models.deny_reading(monkeypatch, own / "locked.pth")
        sd1 = module.model_choices(refresh=True)
        with pytest.raises(Exception, match=r"adapter model 'evil' cannot be used: evil.pth: a pickle that tries"):
            module.resolve_model("evil", 0)
        webui.use("sdxl")
        sdxl = module.model_choices(refresh=False)
    finally:
        shutil.rmtree(own)
        if created_shared:
            shutil.rmtree(shared)
        webui.use("sd1")
        module.model_choices(refresh=True)
    new = [title for title in sd1 if title not in before]
    assert len(new) == 1 and new[0].startswith("t2iadapter_canny_sd14v1 [")  # the SD1 one; the SDXL one is filtered
    assert any(title.startswith("t2i-adapter_xl_sketch [") for title in sdxl)
    listed = " ".join(sd1 + sdxl)
    assert not any(name.rsplit(".", 1)[0] in listed for name in hostile_models.BAD_OWN)
