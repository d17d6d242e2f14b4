"""Plotly figure builders shared by several pages."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .labels import unique_labels


def heatmap(
    values: np.ndarray,
    *,
    x_labels=None,
    y_labels=None,
    title: str = "",
    colorscale: str = "RdBu",
    zmid: float | None = 0.0,
    zmin: float | None = None,
    zmax: float | None = None,
    x_title: str = "",
    y_title: str = "",
    hover: str = "%{y} · %{x}: %{z:.4f}",
    height: int | None = None,
    decimals: int = 4,
) -> go.Figure:
    """A labelled heatmap; rows top to bottom in the order given. Values are rounded to keep the page light."""
    values = np.round(np.asarray(values, dtype=np.float32), decimals)
    figure = go.Figure(
        go.Heatmap(
            z=values,
            x=list(x_labels) if x_labels is not None else None,
            y=list(y_labels) if y_labels is not None else None,
            colorscale=colorscale,
            zmid=zmid if zmin is None and zmax is None else None,
            zmin=zmin,
            zmax=zmax,
            hovertemplate=hover + "<extra></extra>",
        )
    )
    rows = values.shape[0]
    figure.update_layout(
        title=title or None,
        height=height or min(900, max(260, 22 * rows + 120)),
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        xaxis_title=x_title or None,
        yaxis_title=y_title or None,
    )
    figure.update_yaxes(autorange="reversed", type="category" if y_labels is not None else None)
    if x_labels is not None:
        figure.update_xaxes(type="category")
    return figure


def token_heatmap(values: np.ndarray, tokens, *, title: str = "", x_title: str = "dimension", **kwargs) -> go.Figure:
    """Tokens × something (dimensions, neurons), one row per token."""
    return heatmap(values, y_labels=unique_labels(tokens), title=title, x_title=x_title, **kwargs)


def token_by_token(values: np.ndarray, tokens, *, title: str = "", **kwargs) -> go.Figure:
    """A T × T map (attention, similarity) with tokens on both axes: rows = queries, columns = keys."""
    labels = unique_labels(tokens)
    kwargs.setdefault("hover", "%{y} → %{x}: %{z:.4f}")
    return heatmap(values, x_labels=labels, y_labels=labels, title=title, x_title="key", y_title="query", **kwargs)


def vector_bar(vector: np.ndarray, *, title: str = "", height: int = 220) -> go.Figure:
    """One vector as bars, dimension on x."""
    vector = np.round(np.asarray(vector, dtype=np.float32), 4)
    figure = go.Figure(go.Bar(x=np.arange(vector.size), y=vector, hovertemplate="dim %{x}: %{y:.4f}<extra></extra>"))
    figure.update_layout(title=title or None, height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                         xaxis_title="dimension", bargap=0)
    return figure


def matrix_grid(matrices: dict, labels, *, zmin: float = -1.0, zmax: float = 1.0, columns: int = 3,
                colorscale: str = "RdBu", hover: str = "%{y} ↔ %{x}: %{z:.3f}", height_per_row: int = 330):
    """Several square matrices (e.g. one similarity matrix per pooling) on ONE colour scale."""
    from plotly.subplots import make_subplots

    names = list(matrices)
    rows = (len(names) + columns - 1) // columns
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=names, horizontal_spacing=0.06, vertical_spacing=0.12)
    labels = list(labels)
    for index, name in enumerate(names):
        figure.add_trace(
            go.Heatmap(z=np.round(np.asarray(matrices[name], dtype=np.float32), 3), x=labels, y=labels, zmin=zmin, zmax=zmax,
                       name=str(name),
                       colorscale=colorscale, coloraxis="coloraxis", hovertemplate=hover + "<extra>" + name + "</extra>"),
            row=index // columns + 1, col=index % columns + 1,
        )
    figure.update_layout(coloraxis=dict(colorscale=colorscale, cmin=zmin, cmax=zmax), height=rows * height_per_row + 60,
                         margin=dict(l=10, r=10, t=40, b=10))
    figure.update_yaxes(autorange="reversed", type="category", showticklabels=False)
    figure.update_xaxes(type="category", showticklabels=False)
    return figure
