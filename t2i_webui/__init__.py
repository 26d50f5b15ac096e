"""The WebUI glue: the only package that imports the WebUI's ``modules`` and gradio; only ``scripts/`` imports it.

What the WebUI calls and when, on which host, the API unit and the infotext: ``docs/webui_contract.md``.

One concept per module:

- ``startup``: what the entry script runs once at load (chooses the host, points the stores at the WebUI's folders)
- ``host`` (the interface and the choice), ``host_a1111``, ``host_forge``: how each WebUI's UNet is reached and how a
  job is attached to it and released
- ``run``: one job's lifecycle, the same on every host (``process`` → every sampling pass → release)
- ``job_setup``: a job's units parsed, checked and resolved into plans
- ``sources``, ``batch_folder``: a unit's images from the processing object (img2img geometry, batch tab)
- ``models``, ``caches``, ``annotator_info``: the model store, the three caches, the annotators' parameters
- ``settings``: our options, registered and read (validated) in one place
- ``panel``, ``panel_events``, ``canvas``, ``gradio_compat``: the unit panel, its callbacks, the drawing canvas of each
  WebUI, gradio 3 vs 4
- ``infotext``, ``xyz``: infotext paste, X/Y/Z plot axes
- ``routes``, ``api_checks``: the HTTP routes and the API units' validation and completion
- ``train_tab``, ``train_run``, ``loaded_model``: the Train T2I-Adapter tab (entry script
  ``scripts/t2i_adapter_train.py``): its widgets, the run behind them, the WebUI's model as the trainer's
"""

import logging

TITLE = "T2I-Adapter"
LOG = logging.getLogger("t2i_adapter")
