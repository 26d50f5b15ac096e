"""The "Train T2I-Adapter" tab: what the WebUI's script loader needs, handed to ``t2i_webui.train_tab``."""

from __future__ import annotations

from modules import script_callbacks

from t2i_webui import train_tab

script_callbacks.on_ui_tabs(train_tab.on_ui_tabs)
