"""Plotly figures of the attention page. Every label that comes from the user's text goes
through ``labels.token_label`` / ``unique_labels`` (escaped, invisible characters made
visible); values are rounded and long texts are reduced before anything is sent."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analysis.attention_stats import HeadMetric, Links, QueryKeyProjection, WorkedAttention

from .figures import heatmap

MASKED_COLOR = "#c8c8c8"       # cells the model may not look at (causal mask, sliding window)
ATTENTION_SCALE = "Blues"
DECIMALS = 3                   # attention weights are sent with 3 decimals


def _r(values, decimals: int = DECIMALS) -> np.ndarray:
    return np.round(np.asarray(values, dtype=np.float32), decimals)


def block_labels(starts: np.ndarray, positions: np.ndarray) -> list[str]:
    """Labels for block-averaged rows/columns: 'positions 4–7' (token positions in the text)."""
    positions = np.asarray(positions, dtype=int)
    ends = list(starts[1:]) + [positions.size]
    out = []
    for a, b in zip(starts, ends):
        first, last = int(positions[a]), int(positions[b - 1])
        out.append(f"positions {first}–{last}" if last != first else f"position {first}")
    return out


def head_grid(
    maps: np.ndarray,
    row_labels: list[str],
    col_labels: list[str],
    *,
    head_names: list[str],
    selected: int | None = None,
    show_ticks: bool = True,
    columns: int = 4,
    row_height: int = 230,
) -> go.Figure:
    """All heads of one layer as small heatmaps sharing one colour scale (rows = queries, columns = keys).

    The grid's axes are laid out by hand (make_subplots costs more than the whole rest of the page).
    ``row_height`` (px per row of maps) grows on a projector, where every token keeps its label."""
    n_heads = maps.shape[0]
    columns = max(1, min(columns, n_heads))
    rows = math.ceil(n_heads / columns)
    values = _r(maps)
    top = float(np.nanmax(values)) if np.isfinite(values).any() else 1.0
    gap_x, gap_y = 0.012, (0.14 if show_ticks else 0.08) / rows if rows > 1 else 0.0
    width = (1.0 - gap_x * (columns - 1)) / columns
    height = (1.0 - gap_y * (rows - 1)) / rows
    traces, layout, titles = [], {}, []
    for index in range(n_heads):
        row, col = divmod(index, columns)
        suffix = "" if index == 0 else str(index + 1)
        x0 = col * (width + gap_x)
        y1 = 1.0 - row * (height + gap_y)
        traces.append(go.Heatmap(
            z=values[index], x=col_labels, y=row_labels, coloraxis="coloraxis", hoverongaps=False, name=head_names[index],
            xaxis="x" + suffix, yaxis="y" + suffix,
            hovertemplate=f"{head_names[index]}<br>%{{y}} → %{{x}}: %{{z:.3f}}<extra></extra>",
        ))
        layout["xaxis" + suffix] = dict(
            domain=[x0, min(1.0, x0 + width)], anchor="y" + suffix, type="category", tickangle=-60, tickfont=dict(size=9),
            showgrid=False, matches=None if index == 0 else "x",
            showticklabels=show_ticks and (row == rows - 1 or index + columns >= n_heads))
        layout["yaxis" + suffix] = dict(
            domain=[max(0.0, y1 - height), y1], anchor="x" + suffix, type="category", autorange="reversed", tickfont=dict(size=9),
            showgrid=False, matches=None if index == 0 else "y", showticklabels=show_ticks and col == 0)
        name = f"<b>{head_names[index]} ▼</b>" if index == selected else head_names[index]
        titles.append(dict(text=name, x=x0 + width / 2, y=y1, xref="paper", yref="paper", xanchor="center",
                           yanchor="bottom", showarrow=False, font=dict(size=13)))
    masked = bool(np.isnan(values).any())
    figure = go.Figure(data=traces, layout=dict(
        layout,
        annotations=titles,
        coloraxis=dict(colorscale=ATTENTION_SCALE, cmin=0.0, cmax=max(top, 1e-6), colorbar=dict(title="weight", thickness=12)),
        height=min(max(1600, row_height * 2), row_height * rows + (50 if show_ticks else 0) + 40),
        margin=dict(l=10, r=10, t=40, b=10),
        plot_bgcolor=MASKED_COLOR if masked else "white",
    ))
    return figure


def attention_map(values: np.ndarray, row_labels: list[str], col_labels: list[str], *, title: str = "") -> go.Figure:
    """One enlarged T × T map; NaN cells (masked) are drawn grey."""
    values = _r(values)
    top = float(np.nanmax(values)) if np.isfinite(values).any() else 1.0
    n = len(row_labels)
    figure = heatmap(values, x_labels=col_labels, y_labels=row_labels, title=title, colorscale=ATTENTION_SCALE,
                     zmid=None, zmin=0.0, zmax=max(top, 1e-6), x_title="key (attended to)", y_title="query (attending)",
                     hover="query %{y} → key %{x}: %{z:.3f}", decimals=DECIMALS,
                     height=int(min(900, max(360, 16 * n + 160))))
    figure.update_traces(hoverongaps=False, colorbar=dict(title="weight", thickness=12))
    figure.update_layout(plot_bgcolor=MASKED_COLOR if np.isnan(values).any() else "white")
    small = n > 40
    figure.update_xaxes(showticklabels=not small or n <= 80, tickfont=dict(size=8 if small else 11), tickangle=-60,
                        showgrid=False)
    figure.update_yaxes(showticklabels=not small or n <= 80, tickfont=dict(size=8 if small else 11), showgrid=False)
    return figure


def head_view(
    links: Links,
    labels: list[str],
    positions: np.ndarray,
    *,
    title: str = "",
    focus: int | None = None,
) -> go.Figure:
    """Two columns of the same tokens, queries left and keys right; a line per (query, key) pair,
    thicker and darker the larger the weight."""
    positions = np.asarray(positions, dtype=int)
    row_of = {int(p): i for i, p in enumerate(positions)}
    n = len(positions)
    figure = go.Figure()
    buckets = [(0.0, 0.1, 0.8, 0.25), (0.1, 0.25, 1.6, 0.4), (0.25, 0.5, 2.8, 0.6), (0.5, 1.01, 4.5, 0.85)]
    for low, high, width, opacity in buckets:
        sel = (links.weight >= low) & (links.weight < high)
        if not sel.any():
            continue
        xs, ys = [], []
        for q, k in zip(links.query[sel], links.key[sel]):
            xs += [0.0, 1.0, None]
            ys += [-row_of[int(q)], -row_of[int(k)], None]
        figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=True,
                                    name=f"weight {low:.2f}–{min(high, 1.0):.2f}",
                                    line=dict(color=f"rgba(31,90,180,{opacity})", width=width)))
    if links.weight.size:  # hover targets: the middle of each line
        mid_x = np.full(links.weight.size, 0.5)
        mid_y = np.asarray([-(row_of[int(q)] + row_of[int(k)]) / 2 for q, k in zip(links.query, links.key)])
        text = [f"{labels[row_of[int(q)]]} → {labels[row_of[int(k)]]}: {w:.3f}"
                for q, k, w in zip(links.query, links.key, links.weight)]
        figure.add_trace(go.Scatter(x=mid_x, y=np.round(mid_y, 2), mode="markers", marker=dict(size=6, opacity=0.0),
                                    hovertext=text, hoverinfo="text", showlegend=False))
    colours = ["#b3470f" if focus is not None and int(p) == focus else "#10243e" for p in positions]
    for x, side in ((-0.03, "left"), (1.03, "right")):
        figure.add_trace(go.Scatter(
            x=[x] * n, y=[-i for i in range(n)], mode="text", text=labels, textposition=f"middle {side}",
            textfont=dict(size=12, color=colours), hoverinfo="skip", showlegend=False))
    figure.update_layout(
        title=title or None, height=max(260, 20 * n + 140), margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        plot_bgcolor="white", legend=dict(orientation="h", y=-0.02 if n > 20 else -0.08, x=0),
    )
    figure.update_xaxes(visible=False, range=[-0.75, 1.75])
    figure.update_yaxes(visible=False, range=[-n + 0.5, 1.5])
    figure.add_annotation(x=-0.03, y=1.0, text="<b>query</b>", showarrow=False, xanchor="right", yanchor="middle")
    figure.add_annotation(x=1.03, y=1.0, text="<b>key</b>", showarrow=False, xanchor="left", yanchor="middle")
    return figure


def overview_matrix(metric: HeadMetric, selected: tuple[int, int] | None = None, clickable: bool = True) -> go.Figure:
    """The layers × heads matrix of one metric, as squares (clickable: a click opens that head)."""
    values = np.asarray(metric.values, dtype=np.float64)
    n_layers, n_heads = values.shape
    layer_index, head_index = np.meshgrid(np.arange(n_layers), np.arange(n_heads), indexing="ij")
    flat = np.round(values.ravel(), 3)
    fmt = "{:.0%}" if metric.unit == "share" else "{:.2f}"
    size = int(max(14, min(44, 520 / max(n_heads, n_layers))))
    figure = go.Figure(go.Scatter(
        x=(head_index.ravel() + 1), y=(layer_index.ravel() + 1), mode="markers+text" if n_heads <= 16 else "markers",
        marker=dict(symbol="square", size=size, color=flat, colorscale="Viridis", showscale=True,
                    colorbar=dict(title=metric.unit, thickness=12), line=dict(width=0)),
        text=[fmt.format(v) for v in flat],
        textfont=dict(size=9, color=["#111" if v > 0.6 else "white" for v in _unit(flat)]),
        hovertemplate="layer %{y} · head %{x}<br>" + metric.label + ": %{marker.color:.3f} " + metric.unit
        + ("<extra>click to open</extra>" if clickable else "<extra></extra>"),
        showlegend=False,
    ))
    if selected is not None:
        figure.add_trace(go.Scatter(x=[selected[1] + 1], y=[selected[0] + 1], mode="markers", hoverinfo="skip",
                                    marker=dict(symbol="square-open", size=size + 6, color="#e4572e", line=dict(width=3)),
                                    showlegend=False))
    figure.update_layout(height=max(220, int(size * 1.15) * n_layers + 90), margin=dict(l=10, r=10, t=10, b=10),
                         plot_bgcolor="white", clickmode="event+select", dragmode=False)
    figure.update_xaxes(title="head", tickmode="array", tickvals=list(range(1, n_heads + 1)), range=[0.4, n_heads + 0.6])
    figure.update_yaxes(title="layer", tickmode="array", tickvals=list(range(1, n_layers + 1)),
                        range=[n_layers + 0.6, 0.4])
    return figure


def _unit(values: np.ndarray) -> np.ndarray:
    """Values rescaled to 0..1 (where they sit on the colour scale)."""
    low, high = float(np.min(values)), float(np.max(values))
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def head_from_selection(selection) -> tuple[int, int] | None:
    """(layer, head) of the overview square a click selected, or None.

    The square's position is its (head + 1, layer + 1); the point index (row-major over
    layers × heads) is the fallback."""
    try:
        points = selection["selection"]["points"]
    except (KeyError, TypeError):
        points = getattr(getattr(selection, "selection", None), "points", None)
    if not points:
        return None
    point = points[0]
    if not isinstance(point, dict):
        return None
    try:
        return int(round(float(point["y"]))) - 1, int(round(float(point["x"]))) - 1
    except (KeyError, TypeError, ValueError):
        return None


def aligned_zero_ranges(values, top_right: float = 1.05) -> tuple[list[float], list[float]]:
    """Ranges for a left axis showing ``values`` and a right axis showing 0 … ``top_right``, with both zeros at the
    same height (the right axis extends below 0 exactly as far, proportionally, as the left one does)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    low = min(0.0, float(finite.min())) if finite.size else 0.0
    high = max(0.0, float(finite.max())) if finite.size else 1.0
    pad = 0.05 * ((high - low) or 1.0)
    low, high = (low - pad if low < 0 else 0.0), high + pad
    below = -low / high  # how far under zero the axis reaches, as a share of what it shows above zero
    return [low, high], [-below * top_right, top_right]


def worked_scores(worked: WorkedAttention, labels: list[str]) -> go.Figure:
    """The query's scores (bars, left axis) and the softmax weights (line, right axis), one per key; the two
    axes put zero at the same height, so a weight is never drawn below a bar's baseline."""
    x = list(labels)
    shown_scores = np.where(worked.allowed, worked.scores, np.nan)
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(go.Bar(x=x, y=_r(shown_scores, 4), name="score q·k/√d_k", marker_color="#9db4d3",
                            hovertemplate="%{x}: score %{y:.4f}<extra></extra>"), secondary_y=False)
    figure.add_trace(go.Scatter(x=x, y=_r(worked.weights, 4), name="softmax weight", mode="lines+markers",
                                line=dict(color="#e4572e"), hovertemplate="%{x}: weight %{y:.4f}<extra></extra>"),
                     secondary_y=True)
    figure.update_layout(height=300, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=1.12),
                         bargap=0.15)
    figure.update_xaxes(type="category", tickangle=-60)
    left, right = aligned_zero_ranges(shown_scores)
    figure.update_yaxes(title_text="score", range=left, zeroline=True, secondary_y=False)
    figure.update_yaxes(title_text="weight", range=right, tickmode="array", tickvals=[0, 0.2, 0.4, 0.6, 0.8, 1.0],
                        showgrid=False, zeroline=False, secondary_y=True)
    return figure


def weighted_sum_bars(worked: WorkedAttention) -> go.Figure:
    """Σ weight·v computed here (bars) against the head output the model passed on (dots)."""
    dims = np.arange(worked.weighted_sum.size)
    figure = go.Figure()
    figure.add_trace(go.Bar(x=dims, y=_r(worked.weighted_sum, 4), name="Σ weight × value (computed here)",
                            marker_color="#9db4d3", hovertemplate="dim %{x}: %{y:.4f}<extra></extra>"))
    figure.add_trace(go.Scatter(x=dims, y=_r(worked.traced_context, 4), mode="markers", name="the model's head output",
                                marker=dict(color="#e4572e", size=6, symbol="x"),
                                hovertemplate="dim %{x}: %{y:.4f}<extra></extra>"))
    figure.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=1.15),
                         xaxis_title="dimension of the head", bargap=0.1)
    return figure


def query_key_scatter(projection: QueryKeyProjection, labels: list[str], *, show_text: bool) -> go.Figure:
    """Each token twice: as a query (circle) and as a key (diamond), coloured by position."""
    n = len(labels)
    positions = np.arange(n)
    figure = go.Figure()
    for name, coords, symbol in (("query", projection.queries, "circle"), ("key", projection.keys, "diamond")):
        figure.add_trace(go.Scatter(
            x=_r(coords[:, 0], 4), y=_r(coords[:, 1], 4), mode="markers+text" if show_text else "markers",
            name="queries" if name == "query" else "keys",
            text=labels if show_text else None, textposition="top center", textfont=dict(size=10),
            hovertext=[f"{name} of {label} (position {i})" for i, label in enumerate(labels)], hoverinfo="text",
            marker=dict(symbol=symbol, size=10 if name == "query" else 11, color=positions, colorscale="Viridis",
                        cmin=0, cmax=max(n - 1, 1), line=dict(width=1, color="#333" if name == "key" else "white"),
                        showscale=name == "query", colorbar=dict(title="position", thickness=12)),
        ))
    ex = projection.explained
    figure.update_layout(height=480, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=1.06),
                         xaxis_title=f"axis 1 ({ex[0]:.0%} of the spread)", yaxis_title=f"axis 2 ({ex[1]:.0%})",
                         plot_bgcolor="#fafafa")
    return figure
