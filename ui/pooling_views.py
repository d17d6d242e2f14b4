"""Plotly figures of the pooling page: max pooling's wins per token and the STS benchmark."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .labels import unique_labels


def max_wins_bar(tokens, wins: np.ndarray) -> go.Figure:
    """How many dimensions each token wins under max pooling."""
    figure = go.Figure(go.Bar(x=unique_labels(tokens), y=wins, hovertemplate="%{x}: wins %{y} dimensions<extra></extra>"))
    figure.update_layout(height=300, margin=dict(l=10, r=10, t=10, b=10), yaxis_title="dimensions won", xaxis_type="category")
    return figure


def sts_bars(poolings, scores) -> go.Figure:
    """Spearman × 100 per pooling, the value printed on each bar."""
    figure = go.Figure(go.Bar(x=poolings, y=scores, text=scores, hovertemplate="%{x}: %{y:.2f}<extra></extra>"))
    figure.update_layout(height=320, margin=dict(l=10, r=10, t=10, b=10), yaxis_title="Spearman × 100")
    return figure


def sts_scatter(gold: np.ndarray, similarities: np.ndarray, pooling_label: str) -> go.Figure:
    """Human score against cosine, one point per pair."""
    scatter = go.Figure(go.Scattergl(x=gold, y=np.round(similarities, 4), mode="markers",
                                     marker=dict(size=4, opacity=0.5),
                                     hovertemplate="gold %{x:.2f} · cosine %{y:.3f}<extra></extra>"))
    scatter.update_layout(height=380, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="human score (0–5)",
                          yaxis_title=f"cosine ({pooling_label})")
    return scatter
