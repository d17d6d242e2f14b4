"""Plotly figures of the projections page: the sentence scatter and the token view."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.analysis.token_view import TokenView

from .colours import category_style
from .labels import text_label, token_label

LARGE = 2_000          # above this many points: small markers, WebGL
HOVER_TEXT_MAX = 50_000  # above this many points the hover names the point's index instead of its text


def drawn_sample(n: int, limit: int, seed: int = 0) -> np.ndarray:
    """Row numbers, ascending, of a seeded uniform sample of ``limit`` of ``n`` points (all when n ≤ limit):
    what a 3-D scatter draws of a set too large for it (the same sample on every rerun)."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def projection_scatter(points: np.ndarray, groups: np.ndarray, texts, *, dims: int, legend_title: str,
                       title: str, rows: np.ndarray | None = None) -> go.Figure:
    """One trace per group (label or cluster); each point carries its row index as customdata for selections.
    ``rows``: draw only these rows (e.g. ``drawn_sample``); customdata stays the row number in ``points``."""
    drawn = np.arange(len(points)) if rows is None else np.asarray(rows)
    hover = {int(i): text_label(texts[i], 80) for i in drawn} if len(drawn) <= HOVER_TEXT_MAX else None
    figure = go.Figure()
    large = len(drawn) > LARGE
    groups = np.asarray(groups)
    drawn_groups = groups[drawn]
    for number, group in enumerate(pd.unique(groups)):  # numbered over all rows: a group keeps its colour in a sample
        index = drawn[drawn_groups == group]
        if not len(index):
            continue
        colour, symbol = category_style(number)
        marker = dict(size=3 if large else 8, opacity=0.6 if large else 0.85, color=colour, symbol=symbol)
        common = dict(name=text_label(str(group), 30), customdata=index,
                      text=[hover[int(i)] for i in index] if hover is not None else None,
                      hovertemplate=("%{text}" if hover is not None else "point %{customdata}")
                      + "<extra>%{fullData.name}</extra>")
        if dims == 3:
            figure.add_trace(go.Scatter3d(x=points[index, 0], y=points[index, 1], z=points[index, 2], mode="markers", marker=marker,
                                          **common))
        else:
            # WebGL draws large sets smoothly; small ones as SVG for crisp markers.
            scatter = go.Scattergl if large else go.Scatter
            figure.add_trace(scatter(x=points[index, 0], y=points[index, 1], mode="markers", marker=marker, **common))
    figure.update_layout(height=620, margin=dict(l=10, r=10, t=30, b=10), legend_title_text=legend_title, title=title)
    return figure


def token_scatter(view: TokenView, lines) -> go.Figure:
    """Every token of a few sentences as a labelled point, one colour (and legend entry) per sentence."""
    figure = go.Figure()
    sentences = np.asarray(view.sentences)
    for number in sorted(set(sentences.tolist())):
        index = np.flatnonzero(sentences == number)
        colour, symbol = category_style(number)
        figure.add_trace(go.Scatter(
            x=view.points[index, 0], y=view.points[index, 1], mode="markers+text",
            name=f"{number + 1}: {text_label(lines[number], 40)}",
            text=[token_label(view.tokens[i]) for i in index], textposition="top center",
            textfont=dict(color=colour), marker=dict(size=9, color=colour, symbol=symbol),
            hovertext=[f"{token_label(view.tokens[i])} · sentence {number + 1}: {text_label(lines[number], 60)}" for i in index],
            hoverinfo="text",
        ))
    figure.update_layout(height=560, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="PC 1", yaxis_title="PC 2",
                         legend=dict(title_text="sentence", orientation="h", yanchor="top", y=-0.12))
    return figure


COMPARE_VIEWS = ("side by side", "overlaid")



def compared_projection(points_a: np.ndarray, points_b: np.ndarray, groups: np.ndarray, texts, *, dims: int,
                        legend_title: str, title: str, names: tuple[str, str], view: str = "side by side") -> go.Figure:
    """Two maps of the same texts, B's already aligned to A's (``core.analysis.model_comparison.align_points``):
    side by side on linked axes, or overlaid with a line from each text's position under A to the one
    under B. A group has one colour on both maps and one legend entry that hides or shows it on both;
    every point carries its row index as customdata, so a selection on either map picks the text.
    ``names`` are the two models' labels, escaped once for Plotly (``text_label``)."""
    if view not in COMPARE_VIEWS:
        raise ValueError(f"view must be one of {COMPARE_VIEWS}")
    n = len(points_a)
    hover = [text_label(t, 80) for t in texts] if n <= HOVER_TEXT_MAX else None
    large = n > LARGE
    figure = go.Figure()
    side_by_side = view == "side by side"
    if not side_by_side:  # the lines first, so the markers are drawn over them
        figure.add_trace(_joining_lines(points_a, points_b, dims, large))
    for number, group in enumerate(pd.unique(groups)):
        index = np.flatnonzero(groups == group)
        colour, symbol = category_style(number)
        for side, points in enumerate((points_a, points_b)):
            # overlaid: A's points filled, B's open rings of the same colour
            open_ring = side == 1 and not side_by_side
            marker = dict(size=3 if large else 8, opacity=0.6 if large else 0.85, color=colour,
                          symbol=f"{symbol}-open" if open_ring and symbol not in ("x", "cross") else symbol)
            # B's traces say so in their name: the hover box of an overlaid map and the exported data tell the maps apart
            common = dict(name=text_label(str(group), 30) + (" (compared)" if side else ""), legendgroup=f"group {number}",
                          showlegend=side == 0,
                          customdata=index, text=[hover[i] for i in index] if hover is not None else None,
                          hovertemplate=("%{text}" if hover is not None else "point %{customdata}")
                          + "<extra>%{fullData.name}</extra>", marker=marker, mode="markers")
            if dims == 3:
                figure.add_trace(go.Scatter3d(x=points[index, 0], y=points[index, 1], z=points[index, 2],
                                              scene="scene2" if side_by_side and side else "scene", **common))
            else:
                scatter = go.Scattergl if large else go.Scatter
                figure.add_trace(scatter(x=points[index, 0], y=points[index, 1], xaxis="x2" if side_by_side and side else "x",
                                         yaxis="y2" if side_by_side and side else "y", **common))
    layout = dict(height=620, margin=dict(l=10, r=10, t=60, b=10), legend_title_text=legend_title, title=title)
    both = np.vstack([points_a, points_b])
    low, high = both.min(axis=0), both.max(axis=0)
    pad = (high - low) * 0.05 + 1e-9
    ranges = [[float(lo - p), float(hi + p)] for lo, hi, p in zip(low, high, pad)]  # one frame for both maps
    if side_by_side:
        # axes laid out by hand, as make_subplots would (it costs more than the rest of the figure)
        titles = [dict(text=name, x=x, xref="paper", y=1.0, yref="paper", xanchor="center", yanchor="bottom",
                       showarrow=False, font=dict(size=14)) for name, x in zip(names, (0.24, 0.76))]
        layout["annotations"] = titles
        if dims == 3:
            axes = dict(xaxis=dict(range=ranges[0]), yaxis=dict(range=ranges[1]), zaxis=dict(range=ranges[2]),
                        aspectmode="cube")
            layout.update(scene=dict(domain=dict(x=[0, 0.48], y=[0, 0.95]), **axes),
                          scene2=dict(domain=dict(x=[0.52, 1], y=[0, 0.95]), **axes))
        else:
            layout.update(xaxis=dict(domain=[0, 0.48], range=ranges[0]), yaxis=dict(range=ranges[1], domain=[0, 0.95]),
                          xaxis2=dict(domain=[0.52, 1], matches="x", anchor="y2"),
                          yaxis2=dict(matches="y", anchor="x2", domain=[0, 0.95]))
    else:
        layout["annotations"] = [dict(text=f"● {names[0]}   ○ {names[1]}, aligned to it", x=0, xref="paper", y=1.0,
                                      yref="paper", xanchor="left", yanchor="bottom", showarrow=False)]
    figure.update_layout(**layout)
    return figure


def _joining_lines(points_a: np.ndarray, points_b: np.ndarray, dims: int, large: bool):
    """One grey segment per text from its A position to its B position (None between segments); each
    vertex carries its text's row index, like the markers."""
    n = len(points_a)
    vertices = np.full((3 * n, dims), np.nan)
    vertices[0::3], vertices[1::3] = points_a[:, :dims], points_b[:, :dims]
    index = np.repeat(np.arange(n), 3).astype(object)
    index[2::3] = None
    coordinates = [[None if np.isnan(v) else float(v) for v in vertices[:, axis]] for axis in range(dims)]
    common = dict(mode="lines", line=dict(color="rgba(120,120,120,0.45)", width=1), hoverinfo="skip",
                  showlegend=False, name="moved", customdata=index.tolist())
    if dims == 3:
        return go.Scatter3d(x=coordinates[0], y=coordinates[1], z=coordinates[2], **common)
    return (go.Scattergl if large else go.Scatter)(x=coordinates[0], y=coordinates[1], **common)
