"""Plotly figures of the training page: the loss curve and the batch before and after training."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .labels import text_label

LABELLED_POINTS = 16  # above this many points the projection's labels go to the hover only


def projection_figure(points: np.ndarray, anchors: tuple[str, ...], positives: tuple[str, ...]) -> go.Figure:
    """Anchors and positives before and after training in one PCA (``points`` from
    ``core.analysis.training_summary.before_after_projection``); labels printed only for small batches."""
    n = len(anchors)
    printed = 4 * n <= LABELLED_POINTS
    figure = go.Figure()
    for offset, name, suffix in ((0, "before", "-open"), (2 * n, "after", "")):
        names = [f"A{i + 1}" for i in range(n)] + [f"P{i + 1}" for i in range(n)]
        figure.add_trace(go.Scatter(
            x=points[offset: offset + 2 * n, 0], y=points[offset: offset + 2 * n, 1], name=name,
            mode="markers+text" if printed else "markers",
            text=names if printed else None,
            textposition=["top center" if i % 2 == 0 else "bottom center" for i in range(2 * n)],
            marker=dict(symbol=[f"circle{suffix}"] * n + [f"diamond{suffix}"] * n, size=10,
                        color=list(range(n)) * 2, colorscale="Turbo"),
            hovertext=[f"{label} ({name}): {text_label(s)}" for label, s in zip(names, anchors + positives)],
            hoverinfo="text"))
    figure.update_layout(height=460, margin=dict(l=10, r=10, t=30, b=10),
                         title="anchors (A) and positives (P), one PCA of before and after")
    return figure


def loss_curve(losses) -> go.Figure:
    """The training loss after each step."""
    curve = go.Figure(go.Scatter(x=list(range(1, len(losses) + 1)), y=losses, mode="lines+markers",
                                 hovertemplate="step %{x}: %{y:.4f}<extra></extra>"))
    curve.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="step",
                        yaxis_title="loss on the training batch")
    return curve
