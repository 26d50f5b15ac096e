"""Mirrors modules/paths.py@v1.10.1, which re-exports paths_internal's names (``from modules.paths_internal import
models_path, script_path, data_path, extensions_dir, ...``)."""

from modules.paths_internal import (  # noqa: F401
    data_path,
    default_output_dir,
    extensions_builtin_dir,
    extensions_dir,
    models_path,
    script_path,
)
