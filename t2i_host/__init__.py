"""The WebUI host layer: what every WebUI host needs, for AUTOMATIC1111 and Forge alike, without importing either.

- ``unit_args``: one unit's settings — parse (UI, API, infotext), validate naming the field, write to the infotext;
- ``images``: the one image intake — what hosts send (base64, ``data:image/*``, PIL, arrays) and image files —
  held to one budget (pixels and aspect ratio) before decoding, and the one content digest;
- ``settings_values``: stored settings read back through one validator (the default, logged once, when bad);
- ``model_store``: the model folders, adapter files told apart by the core's registry, an LRU of loaded adapters;
- ``families``: which adapter fits which checkpoint (the job's check and the model lists share it);
- ``job``: one generation's units → features (once per job and size, feature cache) → injection;
- ``batch_images``: which of a unit's images guide one batch; ``annotate``: annotator errors as unit errors;
- ``cfg_rows``: which rows of each A1111 UNet call are which image and whether conditional;
- ``forge_unet``: an injection attached to a Forge ``UnetPatcher`` through its block and conditioning modifiers;
- ``resize``: the WebUI's resize modes for condition images;
- ``batch_match``: the img2img batch tab's condition images by file name;
- ``http_api`` / ``api_guard`` / ``api_units`` / ``parsed_units``: the ``/t2i-adapter/*`` routes, the middleware
  that checks API units before a job, the rules it checks, and the cache that parses each API unit once.

It imports the adapter core (``t2i_ext``), torch, numpy and Pillow; fastapi/pydantic only when the routes are
built. Never the WebUI, gradio or the annotators: the glue in ``scripts/`` hands it an annotate function.
"""
