"""Plotly figure builders shared by several pages."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .labels import unique_labels

EVERY_LABEL_UP_TO = 40  # rows up to which a heatmap prints every row label


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
    if y_labels is not None and rows <= EVERY_LABEL_UP_TO:  # Plotly would thin the labels; a reader needs each row's
        shown = list(y_labels)
        figure.update_yaxes(tickmode="array", tickvals=shown, ticktext=shown, tickfont=dict(size=12 if rows <= 20 else 9))
    if x_labels is not None:
        figure.update_xaxes(type="category")
    return figure


def rows_own_scale(values: np.ndarray, row_labels, limits, *, x_title: str = "dimension", colorscale: str = "RdBu",
                   decimals: int = 3, row_height: int = 36, hover: str = "%{y} · dim %{x}: %{z:.3f}") -> go.Figure:
    """One heatmap row per vector, each on its OWN symmetric colour scale ±limits[i] (printed in the row's label):
    vectors of very different size (a raw embedding row, a LayerNorm output ten times larger) all stay readable."""
    from plotly.subplots import make_subplots

    values = np.round(np.asarray(values, dtype=np.float32), decimals)
    count = values.shape[0]
    figure = make_subplots(rows=count, cols=1, shared_xaxes=True, vertical_spacing=min(0.02, 0.3 / max(count, 1)))
    for index, (label, limit) in enumerate(zip(row_labels, limits)):
        name = f"{label} (±{float(limit):.3g})"
        figure.add_trace(go.Heatmap(z=values[index: index + 1], y=[name], name=str(label), colorscale=colorscale,
                                    zmin=-float(limit), zmax=float(limit), showscale=False,
                                    hovertemplate=hover + "<extra></extra>"),
                         row=index + 1, col=1)
    figure.update_layout(height=70 + row_height * count, margin=dict(l=10, r=10, t=10, b=10))
    figure.update_yaxes(type="category")
    figure.update_xaxes(title_text=x_title, row=count, col=1)
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
                colorscale: str = "RdBu", hover: str = "%{y} ↔ %{x}: %{z:.3f}", height_per_row: int = 330,
                tick_text=None, values_up_to: int = 10):
    """Several square matrices (e.g. one similarity matrix per pooling) on ONE colour scale.

    ``labels`` name the rows/columns (hover, export); ``tick_text`` (e.g. "1" … "N", matching a numbered list
    beside the figure) is printed on the axes instead of the long labels, which stay hidden when it is None.
    Each cell prints its value (2 decimals) when there are at most ``values_up_to`` rows."""
    names = list(matrices)
    rows = (len(names) + columns - 1) // columns
    columns = max(1, min(columns, len(names)))
    labels = list(labels)
    values = {} if len(labels) > values_up_to else dict(
        texttemplate="%{z:.2f}", textfont=dict(size=12 if len(labels) <= 5 else 10))
    # Axes laid out by hand, as make_subplots would place them (it costs more than the rest of the page).
    gap_x = 0.06
    width = (1.0 - gap_x * (columns - 1)) / columns
    height = (1.0 - 0.12 * (rows - 1)) / rows if rows > 1 else 1.0
    if tick_text is None:
        x_ticks = dict(type="category", showticklabels=False)
        y_ticks = dict(type="category", showticklabels=False, autorange="reversed")
    else:
        common = dict(type="category", showticklabels=True, tickmode="array", tickvals=labels,
                      ticktext=[str(t) for t in tick_text], tickfont=dict(size=10))
        x_ticks = dict(common, side="bottom")
        y_ticks = dict(common, autorange="reversed")
    traces, layout, titles = [], {}, []
    for index, name in enumerate(names):
        row, col = divmod(index, columns)
        suffix = "" if index == 0 else str(index + 1)
        x0 = col * (width + gap_x)
        y1 = 1.0 - row * (height + 0.12)
        traces.append(go.Heatmap(z=np.round(np.asarray(matrices[name], dtype=np.float32), 3), x=labels, y=labels,
                                 zmin=zmin, zmax=zmax, name=str(name), colorscale=colorscale, coloraxis="coloraxis",
                                 hovertemplate=hover + "<extra>" + name + "</extra>", xaxis="x" + suffix, yaxis="y" + suffix,
                                 **values))
        layout["xaxis" + suffix] = dict(x_ticks, domain=[x0, min(1.0, x0 + width)], anchor="y" + suffix)
        layout["yaxis" + suffix] = dict(y_ticks, domain=[max(0.0, y1 - height), y1], anchor="x" + suffix)
        titles.append(dict(text=str(name), x=x0 + width / 2, y=y1, xref="paper", yref="paper", xanchor="center",
                           yanchor="bottom", showarrow=False, font=dict(size=16)))
    figure = go.Figure(data=traces, layout=dict(
        layout, annotations=titles, coloraxis=dict(colorscale=colorscale, cmin=zmin, cmax=zmax),
        height=rows * height_per_row + 60, margin=dict(l=10, r=10, t=40, b=10)))
    return figure
