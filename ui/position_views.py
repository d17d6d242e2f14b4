"""Figures and the cached experiment of the positional-encoding page."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.analysis.colour_scale import robust_limit  # noqa: F401 - the pages' colour limit, re-exported here
from core.analysis.positional import OffsetProfile, WordOrderResult, word_order_experiment

from . import state
from .progress_cache import budgeted


@budgeted("word-order experiments", max_entries=32)
def word_order(model_id: str, device: str, text_a: str, text_b: str) -> WordOrderResult:
    """The word-order experiment (four small forward passes), once per model and pair of texts."""
    return word_order_experiment(state.cached_model(model_id, device), text_a, text_b)


def offset_figure(profile: OffsetProfile, *, title: str, y_title: str, height: int = 280) -> go.Figure:
    """Mean value on each diagonal (offset n − m ≥ 0) with the diagonal's min–max spread as error bars."""
    keep = profile.offsets >= 0
    offsets = profile.offsets[keep]
    mean = np.round(profile.mean[keep], 4)
    spread = np.round(profile.spread[keep], 6)
    # Whiskers reach the diagonal's own min and max (asymmetric): a cosine's whisker never passes 1.
    above = np.clip(profile.maximum[keep] - mean, 0.0, None)
    below = np.clip(mean - profile.minimum[keep], 0.0, None)
    figure = go.Figure(
        go.Scatter(
            x=offsets, y=mean, mode="lines+markers", marker=dict(size=4),
            error_y=dict(type="data", symmetric=False, array=above, arrayminus=below, visible=True, thickness=1),
            customdata=spread,
            hovertemplate="offset %{x}: mean %{y:.4f}, spread (max − min) %{customdata:.2e}<extra></extra>",
        )
    )
    figure.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10),
                         xaxis_title="offset between the two positions", yaxis_title=y_title)
    figure.update_xaxes(tick0=0, dtick=max(1, int(round(len(offsets) / 12))))  # whole offsets only
    return figure


def rotation_figure(path: np.ndarray, *, title: str, height: int = 380) -> go.Figure:
    """One 2-D dimension pair of the same vector, rotated to each position (labelled)."""
    path = np.round(np.asarray(path, dtype=np.float64), 4)
    circle = np.linspace(0, 2 * np.pi, 121)
    radius = float(np.linalg.norm(path[0])) if len(path) else 1.0
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=np.round(radius * np.cos(circle), 4), y=np.round(radius * np.sin(circle), 4), mode="lines",
                                line=dict(color="#cccccc", width=1), hoverinfo="skip", showlegend=False))
    positions = np.arange(len(path))
    figure.add_trace(go.Scatter(
        x=path[:, 0], y=path[:, 1], mode="markers+text" if len(path) <= 24 else "markers",
        text=[str(p) for p in positions] if len(path) <= 24 else None, textposition="top center",
        marker=dict(size=8, color=positions, colorscale="Viridis", showscale=True, colorbar=dict(title="position")),
        customdata=positions, hovertemplate="position %{customdata}: (%{x:.3f}, %{y:.3f})<extra></extra>", showlegend=False,
    ))
    figure.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10))
    figure.update_xaxes(range=[-1.25 * radius, 1.25 * radius], zeroline=True)
    figure.update_yaxes(range=[-1.25 * radius, 1.25 * radius], scaleanchor="x", scaleratio=1, zeroline=True)
    return figure
