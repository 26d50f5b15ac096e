"""Mirrors modules/paths.py@v1.10.1, which re-exports paths_internal's names (``from modules.paths_internal import
models_path, script_path, data_path, extensions_dir, ...``) and, before that, imports ``modules.safe``, which replaces
``torch.load`` with the WebUI's checking loader for the whole process."""

import modules.safe  # noqa: F401
from modules.paths_internal import (  # noqa: F401
    data_path,
    default_output_dir,
    extensions_builtin_dir,
    extensions_dir,
    models_path,
    script_path,
)
