"""Every chart with its export control: ``show_figure`` draws a Plotly figure and, under it, an *Export*
popover with PNG, SVG, CSV and JSON downloads.

All four are deferred: nothing is computed until a button is clicked, and a click does not rerun the
page. PNG and SVG are rendered on the server by kaleido, which drives a headless Chromium (Debian's
``chromium``: packages.txt on Streamlit Community Cloud, the Dockerfile's apt-get line in Docker). One
Chromium export runs at a time in the whole process (a hosted app serves many sessions from one
process). Where the server has no Chromium, PNG and SVG are disabled with a note; CSV and JSON
(``ui.figure_data``) always work.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from collections.abc import Callable
from functools import lru_cache

import streamlit as st

from .figure_data import figure_csv, figure_json
from .labels import plotly_escape

logger = logging.getLogger("explorer.export")

BASE_CONFIG = {"displaylogo": False}
IMAGE_SCALE = 2
IMAGE_WIDTH = 1200           # px before scaling, about the width of a chart on the wide page
LOCK_WAIT_S = 120            # a click waits at most this long for another session's export
_KALEIDO_LOCK = threading.Lock()
# Streamlit's categorical chart colours (its Plotly template holds placeholders the browser fills in).
STREAMLIT_COLORWAY = ["#0068c9", "#83c9ff", "#ff2b2b", "#ffabab", "#29b09d", "#7defa1", "#ff8700", "#ffd16a",
                      "#6d3fc0", "#d5dae5"]
_BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


class ExportFailed(RuntimeError):
    """A download could not be produced. Streamlit logs it and the button says "Failed to generate file
    for download"; the message never reaches the page."""


def safe_file_name(name: str, default: str = "figure") -> str:
    """A file name any OS accepts: letters, digits, '.', '_' and '-' only, at most 80 characters."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", str(name)).strip("-._")[:80].strip("-._")
    return cleaned or default


@lru_cache(maxsize=1)
def chromium_path() -> str | None:
    """The Chromium/Chrome kaleido will drive, found once per process (None: PNG/SVG export is off)."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        logger.warning("kaleido is not installed: PNG and SVG export are off")
        return None
    path = None
    try:
        from choreographer.browsers.chromium import Chromium

        path = Chromium.find_browser(skip_local=False)
    except Exception:  # noqa: BLE001 - a finder that breaks means "not found"
        path = None
    path = path or next((found for name in _BROWSER_NAMES if (found := shutil.which(name))), None)
    if path is None:
        logger.warning("no Chromium or Chrome on this server: PNG and SVG export are off")
    return path


def styled_for_export(fig, title: str | None = None):
    """A copy of ``fig`` that looks like the chart on the page: white background, Streamlit's colours (the page
    applies its theme in the browser; kaleido sees only the figure) and margins that grow to fit the tick labels."""
    import plotly.graph_objects as go

    copy = go.Figure(fig)
    copy.update_layout(template="plotly_white")
    if not fig.layout.colorway:
        copy.update_layout(colorway=STREAMLIT_COLORWAY)
    copy.update_xaxes(automargin=True)
    copy.update_yaxes(automargin=True)
    if title and not (fig.layout.title and fig.layout.title.text):
        # on the page the chart's title is the text above it; a file on its own needs one
        copy.update_layout(title=dict(text=plotly_escape(title), x=0.01, xanchor="left"),
                           margin=dict(t=max(60, (fig.layout.margin.t or 0) + 40)))
    return copy


def export_size(fig) -> tuple[int, int | None]:
    """(width, height) in px for the exported image: the figure's own size where it has one; a lone
    heatmap keeps roughly its cells' aspect instead of being stretched to the page's width."""
    height = fig.layout.height
    width = fig.layout.width
    if width:
        return int(width), height
    heatmaps = [trace for trace in fig.data if trace.type == "heatmap" and trace.z is not None]
    if height and len(heatmaps) == 1 and len(fig.data) == 1:
        rows = len(heatmaps[0].z)
        columns = len(heatmaps[0].z[0]) if rows else 0
        if rows and columns:
            return int(min(IMAGE_WIDTH, max(480, height * columns / rows + 220))), height
    return IMAGE_WIDTH, height


def render_image(fig, image_format: str, *, scale: float = IMAGE_SCALE, title: str | None = None) -> bytes:
    """``fig`` as PNG or SVG bytes, rendered by kaleido; one render at a time in this process."""
    styled = styled_for_export(fig, title)
    if not _KALEIDO_LOCK.acquire(timeout=LOCK_WAIT_S):
        raise ExportFailed("another image export is still running")
    try:
        width, height = export_size(styled)
        if height and title and not (fig.layout.title and fig.layout.title.text):
            height += 40  # room for the title styled_for_export added
        return styled.to_image(format=image_format, scale=scale, width=width, height=height or None)
    finally:
        _KALEIDO_LOCK.release()


def _deferred(produce: Callable[[], bytes], what: str) -> Callable[[], bytes]:
    """The zero-argument callable a download button runs on click. A failure is logged in one line and
    re-raised as ExportFailed (the user sees Streamlit's generic "Failed to generate file for download",
    never a stack trace; no file with the wrong content is handed out)."""

    def run() -> bytes:
        try:
            return produce()
        except Exception as error:  # noqa: BLE001 - whatever broke, the user gets the same short answer
            logger.warning("export of %s failed: %s: %s", what, type(error).__name__, error)
            raise ExportFailed(f"could not produce {what}") from None

    return run


def _merged_config(name: str, config: dict | None) -> dict:
    merged = {**BASE_CONFIG, **(config or {})}
    merged["toImageButtonOptions"] = {"filename": name, "scale": IMAGE_SCALE, **(merged.get("toImageButtonOptions") or {})}
    return merged


def show_figure(fig, *, key: str, name: str, container=st, config: dict | None = None, **plotly_chart_kwargs):
    """Draw ``fig`` with ``container.plotly_chart`` (full width, no Plotly logo, the camera icon saving
    ``<name>.png`` at 2×) and an *Export* popover under it. Returns what ``plotly_chart`` returns (the
    selection event where ``on_select`` is given). Every widget key is derived from ``key``."""
    name = safe_file_name(name)
    if st.session_state.get("present"):
        projector_fonts(fig)
    merged = _merged_config(name, config)
    plotly_chart_kwargs.setdefault("width", "stretch")
    result = container.plotly_chart(fig, key=key, config=merged, **plotly_chart_kwargs)
    export_control(fig, key=key, name=name, container=container,
                   has_camera=not merged.get("staticPlot") and merged.get("displayModeBar", True) is not False)
    return result


PROJECTOR_FONT = 17       # px, Plotly's base font in presentation mode (its default is 12)
PROJECTOR_MIN_TEXT = 16   # px, the smallest chart text there: tick labels, cell values, subplot titles
PROJECTOR_ALL_TICKS = 32  # up to this many rows or columns, a heatmap labels every one of them there


def projector_fonts(fig) -> None:
    """Presentation mode: text in the chart large enough for a projector (the page's own text grows by CSS;
    Plotly draws its text itself). Nothing below PROJECTOR_MIN_TEXT, and a heatmap of up to
    PROJECTOR_ALL_TICKS tokens labels every token (Plotly would drop every other label to avoid overlap)."""
    fig.update_layout(font=dict(size=PROJECTOR_FONT))
    for name in [name for name in fig.layout if name.startswith(("xaxis", "yaxis"))]:
        axis = fig.layout[name]
        if axis.tickfont and axis.tickfont.size and axis.tickfont.size < PROJECTOR_MIN_TEXT:
            axis.tickfont.size = PROJECTOR_MIN_TEXT
    for annotation in fig.layout.annotations or ():
        if annotation.font and annotation.font.size and annotation.font.size < PROJECTOR_MIN_TEXT:
            annotation.font.size = PROJECTOR_MIN_TEXT
    for trace in fig.data:
        textfont = getattr(trace, "textfont", None)
        if textfont is not None and isinstance(textfont.size, (int, float)) and textfont.size < PROJECTOR_MIN_TEXT:
            textfont.size = PROJECTOR_MIN_TEXT
        if trace.type != "heatmap":
            continue
        for letter, values in (("x", trace.x), ("y", trace.y)):
            anchor = getattr(trace, f"{letter}axis", None) or letter
            axis = fig.layout[f"{letter}axis{anchor[1:]}"]
            if (values is not None and 1 < len(values) <= PROJECTOR_ALL_TICKS and all(isinstance(v, str) for v in values)
                    and axis.ticktext is None and axis.showticklabels is not False):
                axis.tickmode, axis.tickvals = "array", list(values)


def export_control(fig, *, key: str, name: str, container=st, has_camera: bool = True) -> None:
    """The compact *Export* popover: PNG, SVG (server-side, need Chromium), CSV, JSON (always)."""
    images_off = chromium_path() is None
    title = name.replace("-", " ").replace("_", " ")
    no_images = ("This server has no Chromium, which PNG and SVG export need."
                 + (" The camera icon in the chart's toolbar still saves a PNG." if has_camera else ""))
    with container.popover("Export", icon=":material/download:", type="tertiary", key=f"{key}__export",
                           help="Download this chart as an image or the numbers behind it"):
        for fmt, label, icon, mime, make, is_image in (
            ("png", "PNG image", ":material/image:", "image/png", lambda: render_image(fig, "png", title=title), True),
            ("svg", "SVG image", ":material/draw:", "image/svg+xml", lambda: render_image(fig, "svg", title=title), True),
            ("csv", "CSV data", ":material/table:", "text/csv", lambda: figure_csv(fig).encode("utf-8"), False),
            ("json", "JSON data", ":material/data_object:", "application/json",
             lambda: figure_json(fig).encode("utf-8"), False),
        ):
            disabled = is_image and images_off
            st.download_button(
                label, data=_deferred(make, f"{name}.{fmt}"), file_name=f"{name}.{fmt}", mime=mime,
                key=f"{key}__export_{fmt}", on_click="ignore", icon=icon, disabled=disabled, width="stretch",
                help=no_images if disabled else None,
            )
