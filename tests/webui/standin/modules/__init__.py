"""Stand-in for AUTOMATIC1111 stable-diffusion-webui v1.10.1's ``modules`` package (tests only).

Put on ``sys.path`` by ``tests/webui/conftest.py`` for the duration of the WebUI tests and removed from
``sys.modules`` afterwards. Every module reproduces, in our own words, the v1.10.1 behaviour an extension can
observe; each cites the WebUI file it mirrors. Nothing here is installed or imported by the product.
"""
