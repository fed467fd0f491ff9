"""How the page looks: Gradio's theme with system fonts, and the page's own CSS and script
(``inhouse_ui/assets``)."""

from __future__ import annotations

from importlib import resources

import gradio as gr


def asset(name: str) -> str:
    """A file of ``inhouse_ui/assets``."""
    return resources.files("inhouse_ui").joinpath("assets", name).read_text(encoding="utf-8")


def theme() -> gr.themes.Base:
    """Gradio's default look, with system fonts (nothing fetched from the internet) and calmer colours."""
    return gr.themes.Default(
        primary_hue="blue",
        neutral_hue="slate",
        font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    )
