"""The WebUI host layer: what every WebUI host needs, for AUTOMATIC1111 and Forge alike, without importing either.

- ``unit_args``: one unit's settings — parse (UI, API, infotext), validate naming the field, write to the infotext;
- ``model_store``: the model folders, adapter files told apart by their tensor names, an LRU of loaded adapters;
- ``job``: one generation's units → features (once per job and size, feature cache) → injection;
- ``cfg_rows``: which rows of each UNet call are which image and whether conditional;
- ``resize``: the WebUI's resize modes for condition images;
- ``batch_match``: the img2img batch tab's condition images by file name;
- ``http_api`` / ``api_guard``: the ``/t2i-adapter/*`` routes and the validation of API units.

It imports the adapter core (``t2i_ext``), torch, numpy and Pillow; fastapi/pydantic only when the routes are
built. Never the WebUI, gradio or the annotators: the glue in ``scripts/`` hands it an annotate function.
"""
