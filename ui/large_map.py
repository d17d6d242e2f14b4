"""A map of up to millions of 2-D points that a browser can pan, zoom, hover and select.

Why this technique: Plotly's WebGL scatter (``scattergl``) draws a million points smoothly, and
plotly.py 6+ sends numpy arrays as binary typed arrays (base64 ``bdata``: 5.3 bytes per float32
coordinate instead of ~10 as JSON text), so the coordinates of 1,000,000 points cost ~11 MB. What
does not scale is the hover text, so each point carries only the first ``hover_chars`` characters of
its text, chosen so that all of them together stay within ``HOVER_TEXT_SHARE`` of Streamlit's
message limit (``server.maxMessageSize``); a selection lists the full passages from the server.
Where points overlap, a density layer (a 2-D histogram of log counts, a few hundred kB whatever
the number of points) lies under them, so structure shows instead of a solid blob. Colours are
one trace per label (up to ``MAX_GROUPS``); a selection maps back to rows by (trace, point).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .colours import category_style
from .labels import text_label

MAX_GROUPS = 40            # more labels than this are drawn as "other" beyond the 39 largest
HOVER_TEXT_SHARE = 0.2     # of server.maxMessageSize, for all hover texts together
HOVER_CHARS = (16, 160)    # the fewest and the most characters a hover text keeps
DENSITY_BINS = 320


@dataclass(frozen=True)
class LargeMap:
    figure: go.Figure
    rows_of_trace: dict          # trace number → row numbers of its points, in order
    hover_chars: int             # characters of each text in its hover box
    message_limit_bytes: int
    payload_bytes: int           # the figure's JSON as Streamlit sends it

    def rows_of(self, points: list[dict]) -> np.ndarray:
        """Row numbers of the points of a Plotly selection event (``curve_number``, ``point_index``)."""
        found = [int(self.rows_of_trace[p["curve_number"]][p["point_index"]]) for p in points
                 if p.get("curve_number") in self.rows_of_trace and "point_index" in p]
        return np.unique(np.asarray(found, dtype=np.int64))


def message_limit_bytes() -> int:
    from streamlit import config

    return int(config.get_option("server.maxMessageSize")) * 1024 * 1024


def hover_length(n: int, limit_bytes: int) -> int:
    """Characters per hover text so that n of them (and their JSON quoting) fit the hover share."""
    per_point = int(limit_bytes * HOVER_TEXT_SHARE / max(n, 1)) - 4
    return int(min(max(per_point, HOVER_CHARS[0]), HOVER_CHARS[1]))


def large_map(points: np.ndarray, groups: np.ndarray | None, texts, *, title: str, legend_title: str,
              limit_bytes: int | None = None) -> LargeMap:
    points = np.asarray(points, dtype=np.float32)
    n = len(points)
    limit = message_limit_bytes() if limit_bytes is None else int(limit_bytes)
    chars = hover_length(n, limit)
    hover = np.asarray([text_label(t, chars) for t in texts], dtype=object)
    figure = go.Figure()
    figure.add_trace(_density(points))
    rows_of_trace = {}
    labels = np.asarray(groups if groups is not None else np.full(n, "all points"), dtype=object).astype(str)
    names, counts = np.unique(labels, return_counts=True)
    kept = names[np.argsort(-counts, kind="stable")]
    if len(kept) > MAX_GROUPS:
        labels = np.where(np.isin(labels, kept[:MAX_GROUPS - 1]), labels, "other")
        kept = np.append(kept[:MAX_GROUPS - 1], "other")
    opacity = float(np.clip(40_000 / max(n, 1), 0.08, 0.7))
    for number, group in enumerate(kept):
        rows = np.flatnonzero(labels == group)
        colour, _ = category_style(number)
        rows_of_trace[len(figure.data)] = rows
        figure.add_trace(go.Scattergl(
            x=points[rows, 0], y=points[rows, 1], mode="markers", name=f"{text_label(str(group), 30)} ({len(rows):,})",
            marker=dict(size=3 if n > 50_000 else 4, color=colour, opacity=opacity), text=hover[rows].tolist(),
            hovertemplate="%{text}<extra>%{fullData.name}</extra>"))
    figure.update_layout(height=680, margin=dict(l=10, r=10, t=40, b=10), title=title, legend_title_text=legend_title,
                         dragmode="pan", hovermode="closest", legend=dict(itemsizing="constant"))
    import plotly.io

    payload = len(plotly.io.to_json(figure, validate=False).encode("utf-8"))
    return LargeMap(figure, rows_of_trace, chars, limit, payload)


def _density(points: np.ndarray) -> go.Heatmap:
    """log(1 + points per cell) on a DENSITY_BINS grid; empty cells transparent."""
    low, high = points.min(axis=0), points.max(axis=0)
    span = np.maximum(high - low, 1e-9)
    counts, x_edges, y_edges = np.histogram2d(points[:, 0], points[:, 1], bins=DENSITY_BINS,
                                              range=[[low[0], low[0] + span[0]], [low[1], low[1] + span[1]]])
    density = np.log1p(counts.T).astype(np.float32)
    density[counts.T == 0] = np.nan
    return go.Heatmap(z=density, x=((x_edges[:-1] + x_edges[1:]) / 2).astype(np.float32),
                      y=((y_edges[:-1] + y_edges[1:]) / 2).astype(np.float32), colorscale="Greys", showscale=False,
                      hoverinfo="skip", opacity=0.55, name="density", zsmooth=False)


def selected_table(rows: np.ndarray, texts, labels=None, limit: int = 200) -> pd.DataFrame:
    """The first ``limit`` selected passages in full (as text for a table: ``visible`` is the page's job)."""
    shown = rows[:limit]
    frame = pd.DataFrame({"#": shown + 1, "passage": [texts[i] for i in shown]})
    if labels is not None:
        frame["label"] = [labels[i] for i in shown]
    return frame
