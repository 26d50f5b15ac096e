"""Mirrors modules/paths_internal.py@v1.10.1: data_path / models_path / extensions_dir.

The stand-in's data directory comes from ``T2I_STANDIN_DATA_DIR`` (a pytest tmp dir), read at import as the WebUI
reads ``--data-dir`` at import."""

import os

script_path = os.environ.get("T2I_STANDIN_SCRIPT_PATH", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
data_path = os.environ["T2I_STANDIN_DATA_DIR"]
models_path = os.path.join(data_path, "models")  # paths_internal.py: --models-dir or <data_dir>/models
extensions_dir = os.path.join(data_path, "extensions")
extensions_builtin_dir = os.path.join(script_path, "extensions-builtin")
config_states_dir = os.path.join(script_path, "config_states")
default_output_dir = os.path.join(data_path, "outputs")
